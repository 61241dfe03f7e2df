"""The kinematic generator models the data's gravity and placement, and a loaded run keeps
them: 10 Hz gravity-free windows in m/s^2, 100 Hz windows with the gyroscope in deg/s."""

from __future__ import annotations

import dataclasses
import json
import logging
import math

import numpy as np
import pytest
import torch

from imusynth.data import WindowSet
from imusynth.data.units import to_internal
from imusynth.errors import CheckpointError, ConfigError
from imusynth.gan import load_run, sample, train_run
from imusynth.gan.checks import check_generator_data, gravity_reading
from imusynth.train.checkpoint import load_checkpoint, save_checkpoint
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME
from tests.conftest import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "train.steps=3",
    "train.batch_size=8",
    "train.log_every=1",
    "train.checkpoint_every=0",
]
CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")
G = 9.80665


def user_windows(fs: float, length: int, *, gravity: bool, seed: int = 0) -> WindowSet:
    """Windows as a user records them, converted to the internal units by hand: at 10 Hz
    the accelerometer in m/s^2 without gravity, else in g with it and the gyro in deg/s."""
    g = np.random.default_rng(seed)
    n = 16
    t = np.arange(length) / fs
    X = 0.3 * np.sin(2 * np.pi * 0.5 * t + g.uniform(0, 6, size=(n, 6, 1)))
    X = X + 0.05 * g.normal(size=(n, 6, length))
    if gravity:
        X[:, 0] -= 1.0  # g, the arm hanging
        units = ("g",) * 3 + ("deg/s",) * 3
        X[:, 3:] *= 180 / math.pi
    else:
        units = ("m/s^2",) * 3 + ("rad/s",) * 3
        X[:, :3] *= G
    X, internal = to_internal(X.astype(np.float32), units)
    return WindowSet(
        X=X,
        y=np.arange(n) % 2,
        groups=np.repeat(["1", "2"], n // 2),
        classes=("ABD", "FEL"),
        channels=CHANNELS,
        units=internal,
        sampling_rate_hz=fs,
        source_units=units,
        gravity=gravity,
    )


CASES = [(10.0, 50, False), (100.0, 200, True)]  # (fs, T, gravity)


@pytest.mark.parametrize(("fs", "length", "gravity"), CASES)
@pytest.mark.parametrize("generator", ["conv1d", "kinematic"])
def test_runs_keep_the_datas_gravity_rate_and_units(tmp_path, generator, fs, length, gravity):
    ws = user_windows(fs, length, gravity=gravity)
    cfg = load_config(None, [f"model.generator={generator}", *TINY])
    train_run(cfg, ws, tmp_path / "run", device="cpu", plots=False)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["gravity"] is gravity and meta["placement"] == ""
    assert meta["sampling_rate_hz"] == fs and meta["source_units"] == list(ws.source_units)
    run = load_run(tmp_path / "run")
    assert run.gravity is gravity and run.units == ws.units
    fake = sample(run, 3, seed=0)
    assert fake.gravity is gravity and fake.X.shape == (6, 6, length)
    assert np.isfinite(fake.X).all()
    if generator == "kinematic":
        assert run.generator.arm.gravity is gravity
        assert run.generator.joint_stride == max(1, round(fs / 10))


def test_gravity_free_generator_reads_zero_at_rest_and_one_g_with_gravity():
    from imusynth.train.build import build_generator
    from imusynth.train.config import ModelConfig

    m = ModelConfig(generator="kinematic", g_width=32, g_blocks=2, residual=False)
    for gravity, expected in ((True, 1.0), (False, 0.0)):
        gen = build_generator(m, 6, 50, 2, sampling_rate_hz=10.0, gravity=gravity)
        with torch.no_grad():  # no joint motion and no mount: the neutral pose at rest
            gen.joint_head.weight.zero_()
            gen.joint_head.bias.zero_()
        out = gen.sample_with_joints(4, torch.tensor([0, 1, 0, 1]))
        acc = out.x[:, :3] * gen.channel_scale[:, :3] + gen.channel_mean[:, :3]  # (B, 3, T)
        assert torch.allclose(acc.norm(dim=1), torch.full((4, 50), expected), atol=1e-4)


def test_old_checkpoints_model_gravity_on_the_wrist(tmp_path, tiny_windows):
    cfg = load_config(None, ["model.generator=kinematic", *TINY])
    data = dataclasses.replace(tiny_windows, gravity=False, placement="upper-arm")
    train_run(cfg, data, tmp_path / "run", device="cpu", plots=False)
    path = tmp_path / "run" / CHECKPOINT_NAME
    ckpt = load_checkpoint(path)
    assert ckpt["meta"]["gravity"] is False and ckpt["meta"]["placement"] == "upper-arm"
    run = load_run(tmp_path / "run")
    assert run.generator.arm.segment == "upper_arm" and not run.generator.arm.gravity
    for key in ("gravity", "placement", "source_units"):  # what older runs stored
        del ckpt["meta"][key]
    save_checkpoint(path, ckpt)
    old = load_run(tmp_path / "run")
    assert old.gravity and old.placement == "" and old.source_units is None
    assert old.generator.arm.gravity and old.generator.arm.segment == "forearm"


@pytest.mark.parametrize("placement", ["hip", "chest", "ankle"])
def test_other_placements_are_refused_before_anything_is_written(tmp_path, placement):
    ws = dataclasses.replace(user_windows(100.0, 200, gravity=True), placement=placement)
    cfg = load_config(None, ["model.generator=kinematic", *TINY])
    with pytest.raises(ConfigError) as info:
        train_run(cfg, ws, tmp_path / "run", device="cpu", plots=False)
    assert info.value.field == "model.generator" and "conv1d" in str(info.value)
    assert not (tmp_path / "run").exists()
    check_generator_data(load_config(None, TINY), ws)  # conv1d models any placement


@pytest.mark.parametrize("placement", ["", "wrist", "wrist-right", "upper-arm-left"])
def test_wrist_and_upper_arm_placements_train(tmp_path, placement):
    ws = dataclasses.replace(user_windows(100.0, 200, gravity=True), placement=placement)
    cfg = load_config(None, ["model.generator=kinematic", *TINY])
    run = train_run(cfg, ws, tmp_path / "run", device="cpu", plots=False)
    assert run.placement == placement
    segment = "upper_arm" if placement.startswith("upper-arm") else "forearm"
    assert run.generator.arm.segment == segment
    # A placement that names the side stands in for sides the data do not give.
    named = placement.rpartition("-")[2]
    if named in ("left", "right"):
        assert run.sides and run.side_freq[:, ("left", "right").index(named)].tolist() == [1, 1]


def test_a_gravity_flag_the_data_contradict_is_logged(caplog):
    caplog.set_level(logging.WARNING, "imusynth.gan.checks")
    cfg = load_config(None, ["model.generator=kinematic"])
    free = user_windows(10.0, 50, gravity=False)
    assert gravity_reading(free.X) < 0.2
    check_generator_data(cfg, free)
    assert not caplog.records
    check_generator_data(cfg, dataclasses.replace(free, gravity=True))
    assert "gravity" in caplog.records[0].message
    with_g = user_windows(100.0, 200, gravity=True)
    assert gravity_reading(with_g.X) == pytest.approx(1.0, abs=0.1)
    check_generator_data(cfg, dataclasses.replace(with_g, gravity=False))
    assert len(caplog.records) == 2


def test_a_run_written_before_the_rate_keys_resumes_as_it_was(tmp_path, tiny_windows):
    run_dir = tmp_path / "run"
    old = ["model.generator=kinematic", *TINY, "train.checkpoint_every=1"]
    with pytest.warns(DeprecationWarning, match="joint_stride"):
        cfg = load_config(None, [*old, "model.joint_stride=5"])
    train_run(cfg, tiny_windows, run_dir, device="cpu", plots=False)
    path = run_dir / CHECKPOINT_NAME
    ckpt = load_checkpoint(path)
    for key in ("joint_rate_hz", "sensor_noise_seconds"):  # what an older version stored
        del ckpt["config"]["model"][key]
    save_checkpoint(path, ckpt)
    more = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=5))
    run = train_run(more, tiny_windows, run_dir, resume=True, device="cpu", plots=False)
    assert run.step == 5 and run.generator.joint_stride == 5
    changed = dataclasses.replace(more, model=dataclasses.replace(more.model, joint_rate_hz=5.0))
    with pytest.raises(CheckpointError, match="joint_rate_hz"):
        train_run(changed, tiny_windows, run_dir, resume=True, device="cpu", plots=False)

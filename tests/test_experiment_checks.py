"""An experiment checks before it writes: every GAN arm's generator against the data."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.experiments import load_experiment, run_experiment
from imusynth.experiments.run import _check_before_writing

# Subject -> the classes it performed (codes of A, B, C): s0 and s3 alone do C, s1 lacks A.
PERFORMED = {"s0": (0, 1, 2), "s1": (1,), "s2": (0, 1), "s3": (0, 2), "s4": (0, 1), "s5": (1,)}


def _windows(performed=PERFORMED, per_class=3, units=("g",) * 3 + ("rad/s",) * 3):
    g = np.random.default_rng(0)
    groups, y = [], []
    for subject, classes in performed.items():
        for c in classes:
            groups += [subject] * per_class
            y += [c] * per_class
    y = np.array(y)
    t = np.arange(32) / 50.0
    X = np.sin(2 * np.pi * (1 + y[:, None, None]) * t) + 0.3 * g.normal(size=(len(y), 6, 32))
    return WindowSet(
        X=X.astype(np.float32),
        y=y,
        groups=np.array(groups),
        classes=("A", "B", "C"),
        channels=("ax", "ay", "az", "wx", "wy", "wz"),
        units=units,
        sampling_rate_hz=50.0,
        side=np.full(len(y), "right"),
    )


def _config(tmp_path, arms=("real",), train_subjects=(0,), n_splits=2):
    text = f"""
kind = "augmentation"
data = "unused.h5"
[cv]
n_splits = {n_splits}
[grid]
arms = {list(arms)!r}
train_subjects = {list(train_subjects)!r}
n_added = [0, 3]
[classifier]
arch = "frid_adar"
epochs = 1
val_fraction = 0.0
batch_size = 16
[gan]
set = ["train.steps=2", "train.batch_size=8", "train.checkpoint_every=0"]
""".replace("'", '"')
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_a_kinematic_arm_on_data_not_in_g_and_rad_s_stops_before_anything_is_written(tmp_path):
    ws = _windows(units=("m/s^2",) * 3 + ("deg/s",) * 3)
    cfg = load_experiment(_config(tmp_path, arms=["real", "cgan:kinematic"]))
    out = tmp_path / "res"
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, out, windows=ws)
    assert info.value.path == cfg.path and info.value.field == "grid.arms"
    assert "'kinematic'" in info.value.message and "m/s^2" in info.value.message
    assert not out.exists()
    out.mkdir()  # an empty folder given as --out stays empty
    with pytest.raises(ConfigError):
        run_experiment(cfg, out, windows=ws)
    assert list(out.iterdir()) == []
    # The free generator models any units: the same data pass its check.
    cfg = load_experiment(_config(tmp_path, arms=["real", "cgan:conv1d"]))
    assert len(_check_before_writing(cfg, ws, tmp_path / "other", "cpu")) == 2
    assert not (tmp_path / "other").exists()

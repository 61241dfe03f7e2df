"""The user-facing GAN API: estimator, run folders, sampling, balancing."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from imusynth.data import read_windows, write_windows
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.gan import (
    WINDOWS,
    ConditionalGAN,
    NotFittedError,
    balance,
    balance_windows,
    load_run,
    sample,
    sample_run,
    sample_windows,
    train_run,
)
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME
from tests.conftest import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "train.steps=3",
    "train.batch_size=8",
    "train.log_every=1",
    "train.checkpoint_every=2",
]
TINY_PARAMS = dict(steps=2, batch_size=8, latent_dim=8, device="cpu")
# What bare arrays must say about themselves (watch-like windows in g and rad/s).
WATCH = dict(sampling_rate_hz=50.0, units=("g",) * 3 + ("rad/s",) * 3)


@pytest.fixture
def run_dir(tmp_path, tiny_windows):
    cfg = load_config(None, TINY)
    train_run(cfg, tiny_windows, tmp_path / "run", device="cpu", plots=False)
    return tmp_path / "run"


def test_train_run_writes_a_complete_run_folder(tmp_path, tiny_windows):
    run_dir = tmp_path / "run"
    train_run(load_config(None, TINY), tiny_windows, run_dir, device="cpu")
    names = {p.name for p in run_dir.iterdir()}
    assert {CHECKPOINT_NAME, "config.toml", "run.json", "metrics.csv"} <= names
    assert "real_vs_synthetic.png" in names
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["classes"] == list(tiny_windows.classes)
    assert meta["sides"] == ["left", "right"]
    # The normaliser is the training data's.
    assert np.allclose(meta["normalizer"]["mean"], tiny_windows.X.mean(axis=(0, 2)), atol=1e-5)
    assert load_config(run_dir / "config.toml").train.steps == 3


def test_samples_are_seeded_in_physical_units_and_survive_a_reload(run_dir, tiny_windows):
    run = load_run(run_dir)
    X1, y1, q = sample_run(run, per_class=5, seed=0)
    X2, _, _ = sample_run(load_run(run_dir), per_class=5, seed=0)
    X3, _, _ = sample_run(run, per_class=5, seed=1)
    assert X1.shape == (10, 6, 32) and X1.dtype == np.float32
    assert np.bincount(y1).tolist() == [5, 5] and q is None
    assert np.array_equal(X1, X2) and not np.array_equal(X1, X3)
    # Physical units: the normaliser's inverse, not the unit scale of the GAN's space.
    real_mean = tiny_windows.X.mean()
    assert abs(X1.mean() - real_mean) < abs(real_mean) + 3 * tiny_windows.X.std()


def test_sample_windows_writes_a_flagged_file(run_dir, tmp_path):
    ws = sample_windows(load_run(run_dir), per_class=3, classes=["FEL"], seed=2)
    assert ws.class_counts() == {"ABD": 0, "FEL": 3}
    assert ws.is_synthetic.all() and set(ws.side) <= {"left", "right"}
    back = read_windows(write_windows(tmp_path / "s.h5", ws))
    assert back.is_synthetic.all() and np.array_equal(back.X, ws.X)


def test_unknown_class_is_a_data_error(run_dir):
    with pytest.raises(DataError, match="unknown class 'XYZ'"):
        sample_run(load_run(run_dir), {"XYZ": 2})


def test_balance_windows_tops_classes_up_and_keeps_real_rows(run_dir, tiny_windows):
    ws = tiny_windows.subset(np.r_[np.arange(12), 12, 13])  # 10 ABD, 4 FEL
    counts = ws.class_counts()
    assert counts["ABD"] != counts["FEL"]
    out = balance_windows(ws, load_run(run_dir), seed=0)
    top = max(counts.values())
    assert out.class_counts() == {c: top for c in ws.classes}
    n = len(ws)
    assert np.array_equal(out.X[:n], ws.X) and np.array_equal(out.y[:n], ws.y)
    assert not out.is_synthetic[:n].any() and out.is_synthetic[n:].all()
    assert (out.groups[n:] == "synthetic").all()
    assert (out.recording[n:] == -1).all()


def test_balance_windows_rejects_other_channels(run_dir, tiny_windows):
    other = dataclasses.replace(tiny_windows, channels=("a", "b", "c", "d", "e", "f"))
    with pytest.raises(DataError, match="channels"):
        balance_windows(other, load_run(run_dir))


def test_resume_with_other_data_is_a_checkpoint_error(run_dir, tiny_windows):
    cfg = load_config(None, TINY)
    with pytest.raises(CheckpointError) as info:
        train_run(cfg, tiny_windows.subset(np.arange(16)), run_dir, resume=True, device="cpu")
    assert info.value.field == "normalizer"


@pytest.mark.parametrize(
    ("field", "value"), [("sampling_rate_hz", 100.0), ("gravity", False), ("placement", "hip")]
)
def test_resume_with_the_same_arrays_described_otherwise_is_a_checkpoint_error(
    run_dir, tiny_windows, field, value
):
    # The arrays, so the normaliser, are the same; the model they train is not.
    cfg = load_config(None, [*TINY, "train.steps=4"])
    other = dataclasses.replace(tiny_windows, **{field: value})
    with pytest.raises(CheckpointError) as info:
        train_run(cfg, other, run_dir, resume=True, device="cpu", plots=False)
    assert info.value.field == field


def test_a_run_json_from_before_gravity_and_placement_were_stored_resumes(run_dir, tiny_windows):
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta.pop("gravity"), meta.pop("placement")) == (True, "")
    (run_dir / "run.json").write_text(json.dumps(meta))
    cfg = load_config(None, [*TINY, "train.steps=4"])
    assert train_run(cfg, tiny_windows, run_dir, resume=True, device="cpu").step == 4
    gravity_free = dataclasses.replace(tiny_windows, gravity=False)
    with pytest.raises(CheckpointError, match="differ") as info:
        train_run(cfg, gravity_free, run_dir, resume=True, device="cpu")
    assert info.value.field == "gravity"


def test_resume_continues_a_longer_run(run_dir, tiny_windows):
    cfg = load_config(None, [*TINY, "train.steps=4"])
    run = train_run(cfg, tiny_windows, run_dir, resume=True, device="cpu", plots=False)
    assert run.step == 4


def test_corrupt_run_folder_is_a_checkpoint_error(run_dir, tmp_path):
    (run_dir / CHECKPOINT_NAME).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(run_dir)
    with pytest.raises(CheckpointError, match="not found"):
        load_run(tmp_path / "nowhere")


def test_estimator_fit_sample_save_load(tmp_path, rng):
    X = rng.normal(size=(40, 6, 32)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    X[y == 1, 0] += 3.0
    gan = ConditionalGAN(**TINY_PARAMS).fit(X, y, groups=np.repeat(["a", "b"], 20), **WATCH)
    assert gan.get_params()["steps"] == 2 and gan.resolved_config().train.steps == 2
    Xs, ys = gan.sample(n_per_class=4, seed=0)
    assert Xs.shape == (8, 6, 32) and np.bincount(ys).tolist() == [4, 4]
    again = ConditionalGAN.load(gan.save(tmp_path / "est"))
    assert np.array_equal(again.sample(n_per_class=4, seed=0)[0], Xs)
    assert list(again.classes_) == ["0", "1"]


def test_estimator_with_the_kinematic_generator_returns_joint_angles(rng):
    X = rng.normal(size=(16, 6, 32)).astype(np.float32)
    y = np.repeat([0, 1], 8)
    side = np.tile(["left", "right"], 8)
    gan = ConditionalGAN(generator="kinematic", **TINY_PARAMS).fit(
        X, y, side=side, gravity=True, **WATCH
    )
    Xs, _, q = gan.sample(n_per_class=2, seed=0, return_joints=True)
    assert Xs.shape == (4, 6, 32) and q.shape == (4, 7, 32)
    lim = gan.run_.generator.joint_limits.numpy()
    assert (q >= lim[None, :, :1] - 1e-5).all() and (q <= lim[None, :, 1:] + 1e-5).all()


def test_balance_helper_on_arrays(rng):
    X = rng.normal(size=(24, 6, 32)).astype(np.float32)
    y = np.array([0] * 18 + [1] * 6)
    gan = ConditionalGAN(**TINY_PARAMS).fit(X, y, **WATCH)
    Xb, yb, synthetic = balance(X, y, gan, seed=0)
    assert np.bincount(yb).tolist() == [18, 18]
    assert np.array_equal(Xb[:24], X) and synthetic.sum() == 12 and not synthetic[:24].any()


def test_fit_rejects_bad_input():
    with pytest.raises(DataError, match="NaN"):
        ConditionalGAN(**TINY_PARAMS).fit(
            np.full((16, 6, 32), np.nan, np.float32), np.zeros(16, int), **WATCH
        )
    with pytest.raises(DataError, match="batch"):
        ConditionalGAN(**TINY_PARAMS).fit(
            np.zeros((4, 6, 32), np.float32), np.zeros(4, int), **WATCH
        )


def test_the_run_carries_its_modality_and_one_api_serves_it(run_dir, tiny_windows):
    run = load_run(run_dir)
    assert run.modality is WINDOWS
    ws = sample(run, 3, seed=2)
    assert np.array_equal(ws.X, sample_windows(run, 3, seed=2).X)
    assert np.array_equal(ws.X, sample_run(run, 3, seed=2)[0])
    part = tiny_windows.subset(np.r_[np.arange(12), 12, 13])
    assert np.array_equal(balance(part, run, seed=1).X, balance_windows(part, run, seed=1).X)


def test_balance_checks_the_data_against_the_run(run_dir, tiny_windows):
    run = load_run(run_dir)
    slower = dataclasses.replace(tiny_windows, sampling_rate_hz=tiny_windows.sampling_rate_hz / 2)
    with pytest.raises(DataError) as info:
        balance(slower, run)
    assert info.value.field == "sampling_rate_hz"
    shorter = dataclasses.replace(tiny_windows, X=tiny_windows.X[..., :16])
    with pytest.raises(DataError) as info:
        balance(shorter, run)
    assert info.value.field == "X"


def test_estimator_follows_the_scikit_learn_conventions(tmp_path):
    from sklearn.base import clone

    gan = ConditionalGAN(steps=2, latent_dim=8)
    assert not hasattr(gan, "run_")  # __init__ only stores
    twin = clone(gan)
    assert twin.get_params() == gan.get_params() and twin is not gan
    with pytest.raises(NotFittedError, match="not fitted"):
        gan.sample()
    with pytest.raises(RuntimeError):  # what it raised before NotFittedError
        gan.save(tmp_path / "x")
    with pytest.raises(ConfigError) as info:  # types checked in fit, named by parameter
        ConditionalGAN(steps="many").fit(np.zeros((8, 6, 32), np.float32), np.zeros(8, int))
    assert info.value.field == "steps"


def test_estimator_with_a_run_dir_resumes_a_killed_fit_exactly(tmp_path, rng):
    X = rng.normal(size=(40, 6, 32)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    params = TINY_PARAMS | dict(steps=4)
    whole = ConditionalGAN(**params).fit(X, y, **WATCH)
    # A fit that stopped after its step-2 checkpoint (as a killed one leaves its folder) ...
    ConditionalGAN(**params | dict(steps=2), run_dir=tmp_path / "run").fit(X, y, **WATCH)
    assert load_run(tmp_path / "run").step == 2
    # ... is resumed by the same fit called again, to the weights of the uninterrupted one.
    resumed = ConditionalGAN(**params, run_dir=str(tmp_path / "run")).fit(X, y, **WATCH)
    assert resumed.run_.step == 4
    for a, b in zip(
        resumed.run_.generator.state_dict().values(),
        whole.run_.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    # The folder it wrote is what load reads: the same samples as the fitted estimator's.
    again = ConditionalGAN.load(tmp_path / "run")
    assert np.array_equal(again.sample(n_per_class=3, seed=1)[0], whole.sample(3, seed=1)[0])
    # Other windows in that folder are refused, not trained over.
    with pytest.raises(CheckpointError):
        ConditionalGAN(**params, run_dir=tmp_path / "run").fit(X[:20] * 3, y[:20], **WATCH)


def test_an_estimator_takes_its_config_from_a_toml_file_or_a_bundled_name(tmp_path):
    from imusynth.gan import ConditionalGAN, ImageGAN

    shipped = load_config("watch_cgan.toml")
    cfg = ConditionalGAN(config="watch_cgan.toml", steps=3).resolved_config()
    assert cfg.model == shipped.model and cfg.train.steps == 3
    assert ImageGAN(config="ct_dcgan.toml").resolved_config().model.generator == "dcgan"
    path = tmp_path / "gan.toml"
    path.write_text("[train]\nsteps = 7\n")
    assert ConditionalGAN(config=path).resolved_config().train.steps == 7
    assert ConditionalGAN().resolved_config().model.d_stft == 0  # the dataclass defaults
    with pytest.raises(ConfigError, match="config file not found"):
        ConditionalGAN(config="no_such.toml").resolved_config()

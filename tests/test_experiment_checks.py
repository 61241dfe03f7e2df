"""An experiment checks before it writes: every GAN arm's generator against the data, and
training sizes that keep every class of each fold (subjects drawn so that none is lost)."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.experiments import grid, load_experiment, run_experiment
from imusynth.experiments.grid import Unit, check_subject_draws, draw_subjects
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


def test_every_draw_of_subjects_keeps_every_class():
    ws = _windows()
    for k in (2, 3, 4):
        for seed in range(30):
            keep = draw_subjects(ws.groups, ws.y, k, np.random.default_rng(seed))
            assert len(set(keep)) == k
            assert set(ws.y[np.isin(ws.groups, keep)]) == {0, 1, 2}, (k, seed, keep)
            again = draw_subjects(ws.groups, ws.y, k, np.random.default_rng(seed))
            assert list(again) == list(keep)  # deterministic for a seed
    # The plain draw would have lost a class for some of those seeds.
    lost = 0
    subjects = np.unique(ws.groups)
    for seed in range(30):
        plain = np.random.default_rng(seed).choice(subjects, size=2, replace=False)
        lost += set(ws.y[np.isin(ws.groups, plain)]) != {0, 1, 2}
    assert lost > 0


def test_subjects_who_all_perform_every_class_give_the_plain_draw():
    every = {f"s{i}": (0, 1, 2) for i in range(8)}
    ws = _windows(every)
    subjects = np.unique(ws.groups)
    for seed in range(10):
        plain = np.random.default_rng(seed).choice(subjects, size=3, replace=False)
        drawn = draw_subjects(ws.groups, ws.y, 3, np.random.default_rng(seed))
        assert list(drawn) == list(plain)


def test_a_draw_built_subject_by_subject_keeps_every_class_too(monkeypatch):
    monkeypatch.setattr(grid, "_REDRAWS", 0)  # as when redraws find no set that holds all
    ws = _windows()
    seen = set()
    for seed in range(20):
        keep = draw_subjects(ws.groups, ws.y, 2, np.random.default_rng(seed))
        assert set(ws.y[np.isin(ws.groups, keep)]) == {0, 1, 2}
        assert list(draw_subjects(ws.groups, ws.y, 2, np.random.default_rng(seed))) == list(keep)
        seen.add(frozenset(keep))
    assert len(seen) > 1  # still a random draw
    with pytest.raises(ValueError):  # one subject performs all three: s0; without it, none
        draw_subjects(
            ws.groups[ws.groups != "s0"], ws.y[ws.groups != "s0"], 1, np.random.default_rng(0)
        )


def test_every_unit_of_an_experiment_trains_on_every_class(tmp_path, monkeypatch):
    from imusynth.train import classifiers

    labels = []
    original = classifiers.CNNClassifier.fit

    def spy(self, X, y, groups=None):
        labels.append(set(np.asarray(y).tolist()))
        return original(self, X, y, groups)

    monkeypatch.setattr(classifiers.CNNClassifier, "fit", spy)
    ws = _windows()
    cfg = load_experiment(_config(tmp_path, train_subjects=[2]))
    folds = grid.make_folds(cfg, ws)
    run_experiment(cfg, tmp_path / "res", windows=ws)
    assert len(labels) == len(folds) and all(seen == {0, 1, 2} for seen in labels)
    for fold, (train_idx, _) in enumerate(folds):
        train = grid.training_set(cfg, ws, train_idx, Unit(fold, 0, 2))
        assert len(np.unique(train.groups)) == 2


def test_a_size_that_cannot_keep_every_class_names_the_fold_the_class_and_the_setting(tmp_path):
    # Only s0 performs every class, and it is a training subject of one fold only.
    performed = {"s0": (0, 1, 2), "s1": (0, 1), "s2": (1, 2), "s3": (0,), "s4": (2,)}
    ws = _windows(performed)
    cfg = load_experiment(_config(tmp_path, train_subjects=[0, 1]))
    folds = grid.make_folds(cfg, ws)
    bad = [f for f, (tr, _) in enumerate(folds) if "s0" not in set(ws.groups[tr])]
    assert bad
    out = tmp_path / "res"
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, out, windows=ws)
    err = info.value
    assert err.field == "grid.train_subjects" and err.path == cfg.path
    assert err.message.startswith(f"fold {bad[0]}: no draw of 1 of its ")
    assert "training subjects" in err.message and "needs at least 2" in err.message
    assert any(f"class {name!r} is only in" in err.message for name in ws.classes)
    assert not out.exists()
    # Two subjects keep every class of every fold here.
    check_subject_draws(load_experiment(_config(tmp_path, train_subjects=[2, 0])), ws, folds)

"""Classifier-based filtering of synthetic samples, and the cgan_filtered arm."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.augment.filtering import select_recognised
from imusynth.errors import ConfigError, DataError
from imusynth.experiments import load_experiment, run_experiment
from imusynth.models.features import FeatureRandomForest

from .test_runner import _config, _rows, _windows


def _sines(freqs, n, rng, length=64):
    t = np.arange(length) / 50.0
    f = np.repeat(freqs, n)
    X = np.sin(2 * np.pi * f[:, None, None] * t) + 0.1 * rng.normal(size=(len(f), 2, length))
    return X.astype(np.float32)


def test_keeps_the_candidates_a_real_data_forest_recognises():
    rng = np.random.default_rng(0)
    real = _sines([2.0, 8.0], 30, rng)
    judge = FeatureRandomForest(50, random_state=0).fit(real, np.repeat([0, 1], 30))
    # candidates labelled 1: half look like class 1 (8 Hz), half like class 0 (2 Hz)
    cand = np.concatenate([_sines([8.0], 10, rng), _sines([2.0], 10, rng)])
    good = np.arange(20) < 10
    Xk, yk = select_recognised(cand, np.ones(20, dtype=int), {1: 10}, judge)
    assert len(Xk) == 10 and (yk == 1).all()
    kept = [int(np.flatnonzero((cand == x).all(axis=(1, 2)))[0]) for x in Xk]
    assert good[kept].all()
    # no class asked for: nothing kept; a class with too few candidates, or one the judge
    # does not know, is an error naming it
    assert len(select_recognised(cand, np.ones(20, dtype=int), {1: 0}, judge)[0]) == 0
    with pytest.raises(DataError, match="20 candidates for 21"):
        select_recognised(cand, np.ones(20, dtype=int), {1: 21}, judge)
    with pytest.raises(DataError, match="no class 5"):
        select_recognised(cand, np.full(20, 5), {5: 3}, judge)


def test_filtered_arm_tops_up_from_more_candidates(tmp_path, monkeypatch):
    from imusynth.experiments import arms

    drawn = []
    sample = arms._sample

    def spy(gan, per_class, rng):
        drawn.append(per_class)
        return sample(gan, per_class, rng)

    monkeypatch.setattr(arms, "_sample", spy)
    ws = _windows(per_class=10)
    extra = '[rebalance]\nclasses = ["B"]\nfraction = 0.2'
    cfg = load_experiment(
        _config(
            tmp_path, kind="rebalancing", arms=["cgan:conv1d", "cgan_filtered:conv1d"], extra=extra
        )
    )
    rows = _rows(run_experiment(cfg, tmp_path / "r", windows=ws))
    assert len(rows) == 2 * 2
    per_fold_class = 2 * 10  # two training subjects x 10 windows; B cut to 4
    for r in rows:
        assert int(r["n_train_added"]) == per_fold_class - 4  # both top B up the same
    plain, filtered = drawn[0], drawn[1]
    assert plain == {0: 0, 1: per_fold_class - 4, 2: 0}
    assert filtered == {1: arms.FILTER_FACTOR * (per_fold_class - 4)}


def test_filtered_arm_is_for_windows_only(tmp_path):
    path = _config(tmp_path, arms=["real", "cgan_filtered:dcgan"])
    with pytest.raises(ConfigError, match="not images"):
        load_experiment(path)

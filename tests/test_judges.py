"""Judges of synthetic windows: they must fail a generator when they should, and only then."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.dummy import DummyClassifier

import imusynth.metrics.timegan as timegan
from imusynth.errors import ConfigError, DataError
from imusynth.metrics import (
    discriminative_score,
    heldout_discriminative_floor,
    heldout_discriminative_score,
    judge_features,
    timegan_discriminative_score,
    timegan_predictive_score,
)
from imusynth.models.features import window_features


def subjects(rng, n_subjects, per, prefix, channels=3):
    """Windows of subjects that each carry their own offset (a fingerprint) plus noise."""
    offset = rng.normal(size=(n_subjects, channels, 1))
    X = offset.repeat(per, 0) + 0.1 * rng.normal(size=(n_subjects * per, channels, 32))
    return X, np.repeat([f"{prefix}{i}" for i in range(n_subjects)], per)


def matched_noise(X, rng):
    mu, sd = X.mean(axis=(0, 2), keepdims=True), X.std(axis=(0, 2), keepdims=True)
    return (mu + sd * rng.normal(size=X.shape)).astype(np.float32)


# -- the real watch data: known answers ----------------------------------------------------
@pytest.fixture(scope="module")
def watch():
    from imusynth.data import load_windows

    return load_windows("watch.toml")


def test_real_subjects_against_real_subjects_score_near_zero(watch):
    floor = heldout_discriminative_floor(watch.X, watch.groups, y=watch.y, n_repeats=3)
    assert floor.mean <= 0.15, floor
    assert len(floor.values) == 3 and floor.sd is not None


def test_matched_moment_noise_is_always_told_apart(watch):
    noise = matched_noise(watch.X, np.random.default_rng(0))
    score = heldout_discriminative_score(watch.X, watch.groups, noise, n_repeats=2)
    assert score.mean >= 0.45, score


# -- the held-out protocol -----------------------------------------------------------------
def test_heldout_judge_does_not_win_by_recognising_subjects(rng):
    # Two sets of subjects from one distribution: a judge that sees windows of a subject on
    # both sides of its split tells them apart by the subjects' fingerprints.
    real, g_real = subjects(rng, 30, 8, "r")
    other, g_other = subjects(rng, 30, 8, "o")
    held = heldout_discriminative_score(real, g_real, other, g_other, n_repeats=3)
    assert held.mean < 0.2, held
    assert discriminative_score(real, other) > 0.3


def test_synthetic_windows_of_a_subject_stay_on_that_subjects_side(rng):
    groups = np.repeat([f"s{i}" for i in range(6)], 10)
    real = 10.0 * np.repeat(np.arange(6), 10)[:, None, None] + rng.normal(size=(60, 2, 16))
    fake = real + 0.01 * rng.normal(size=real.shape)  # a near copy of each real window
    sides = []

    class Recorder:
        def fit(self, X, y):
            sides.append((X, y))
            return self

        def predict(self, X):
            sides.append((X, None))
            return np.zeros(len(X))

    heldout_discriminative_score(real, groups, fake, groups, classifier=Recorder, n_repeats=2)
    for (X_tr, y_tr), (X_te, _) in zip(sides[::2], sides[1::2], strict=True):
        # Each subject's offset (channel 0 mean) appears on one side only, real or synthetic.
        offsets = lambda X: set(np.round(X[:, 0].mean(1) / 10.0))  # noqa: E731
        assert not offsets(X_tr) & offsets(X_te)
        assert set(y_tr) == {0, 1}


def test_heldout_balances_set_sizes_so_chance_is_half(rng):
    real, groups = subjects(rng, 10, 20, "r")
    fake = subjects(rng, 4, 10, "f")[0]
    score = heldout_discriminative_score(
        real, groups, fake, classifier=lambda: DummyClassifier(strategy="most_frequent")
    )
    # A judge that always answers the same is right on exactly half of a balanced test set.
    assert score.values == (0.0,) * 5


def test_heldout_balances_classes_when_labels_are_given(rng):
    # Real and synthetic windows of each class come from the same distribution; only the
    # class mix differs (80/20 vs 20/80), which a judge exploits unless the mix is matched.
    def windows(n, share):
        y = (rng.random(n) > share).astype(int)
        X = rng.normal(size=(n, 2, 32)) + 3.0 * y[:, None, None]
        return X, y

    real, y_real = windows(400, 0.8)
    fake, y_fake = windows(400, 0.2)
    groups = np.repeat(np.arange(8), 50)
    mixed = heldout_discriminative_score(real, groups, fake, groups, n_repeats=2)
    matched = heldout_discriminative_score(
        real, groups, fake, groups, y_real=y_real, y_fake=y_fake, n_repeats=2
    )
    assert mixed.mean > 0.2
    assert matched.mean < 0.1


def test_floor_needs_four_subjects_and_is_low_for_one_distribution(rng):
    X, groups = subjects(rng, 24, 8, "s")
    assert heldout_discriminative_floor(X, groups, n_repeats=3).mean < 0.2
    with pytest.raises(DataError, match="4 subjects") as err:
        heldout_discriminative_floor(X[:24], groups[:24])
    assert err.value.field == "groups"


def test_heldout_is_deterministic_and_reports_each_split(rng):
    real, groups = subjects(rng, 6, 10, "r")
    fake = real + 0.05 * rng.normal(size=real.shape)
    a = heldout_discriminative_score(real, groups, fake, n_repeats=3, seed=4)
    b = heldout_discriminative_score(real, groups, fake, n_repeats=3, seed=4)
    assert a == b and len(a.values) == 3
    assert a.mean == pytest.approx(np.mean(a.values))
    assert a.to_dict()["protocol"].startswith("subject-held-out")


def test_heldout_user_errors(rng):
    real, groups = subjects(rng, 4, 5, "r")
    with pytest.raises(DataError, match="2 subjects") as err:
        heldout_discriminative_score(real, np.zeros(len(real)), real)
    assert err.value.field == "groups"
    with pytest.raises(DataError) as err:
        heldout_discriminative_score(real, groups[:-1], real)
    assert err.value.field == "groups"
    with pytest.raises(DataError, match="shape"):
        heldout_discriminative_score(real, groups, real[:, :2])
    with pytest.raises(ConfigError) as err:
        heldout_discriminative_score(real, groups, real, classifier="svm")
    assert err.value.field == "classifier"
    with pytest.raises(ConfigError):
        heldout_discriminative_score(real, groups, real, n_repeats=0)
    bad = real.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        heldout_discriminative_score(real, groups, bad)


# -- the judge's features ------------------------------------------------------------------
def test_judge_features_add_jerk_and_equal_width_bands():
    t = np.arange(256, dtype=np.float64)
    ramp = 0.5 * t  # constant first difference
    tone = np.sin(2 * np.pi * 0.4 * t)  # 0.4 cycles per sample = 0.8 of Nyquist
    X = np.stack([np.stack([ramp, tone])])  # (1, 2, 256)
    F = judge_features(X)
    n_base = window_features(X).shape[1]
    assert F.shape == (1, n_base + 2 * 5 + 2 * 8)
    jerk = F[0, n_base : n_base + 10].reshape(2, 5)  # mean |d|, std, max |d|, p10, p90
    np.testing.assert_allclose(jerk[0], [0.5, 0.0, 0.5, 0.5, 0.5], atol=1e-6)
    bands = F[0, n_base + 10 :].reshape(2, 8)
    assert int(np.argmax(bands[1])) == 6  # 0.75-0.875 of Nyquist


# -- TimeGAN's protocol --------------------------------------------------------------------
def test_timegan_judges_use_the_published_network_and_split(rng, monkeypatch):
    built, seen = [], []

    class Spy(timegan._PostHocGRU):
        def __init__(self, dim, hidden, *, per_step):
            built.append((dim, hidden, per_step))
            super().__init__(dim, hidden, per_step=per_step)

        def forward(self, x):
            seen.append(tuple(x.shape))
            return super().forward(x)

    monkeypatch.setattr(timegan, "_PostHocGRU", Spy)
    real = rng.normal(size=(300, 6, 10))
    timegan_discriminative_score(real, rng.normal(size=(400, 6, 10)), iterations=2)
    # hidden = dim // 2; batches of 128 real and 128 synthetic; 20 % of 300 held out.
    assert built == [(6, 3, False)]
    assert seen == [(128, 10, 6)] * 4 + [(60, 10, 6)] * 2
    built.clear(), seen.clear()
    timegan_predictive_score(real, real, iterations=1)
    assert built == [(5, 3, True)]  # channels :-1 predict the last one
    assert seen[0] == (128, 9, 5)
    built.clear()
    timegan_discriminative_score(real[:, :1], real[:, :1], iterations=1)
    assert built == [(1, 1, False)]  # at least one unit


def test_timegan_discriminative_score_is_seeded(rng):
    real, fake = rng.normal(size=(40, 2, 8)), rng.normal(size=(40, 2, 8)) + 0.5
    state = torch.random.get_rng_state()
    a = timegan_discriminative_score(real, fake, iterations=20, batch_size=16, seed=3)
    b = timegan_discriminative_score(real, fake, iterations=20, batch_size=16, seed=3)
    assert a == b
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched


def test_timegan_predictive_score_rewards_the_right_dynamics(rng):
    def windows(n, broken=False):
        X = rng.uniform(size=(n, 2, 6))
        if broken:
            X[:, 1] = 1.0  # the predicted channel is stuck
        else:
            X[:, 1, 1:] = X[:, 0, :-1]  # the last channel follows the first one step later
        return X

    real = windows(100)
    good = timegan_predictive_score(real, windows(100), iterations=800, batch_size=32)
    bad = timegan_predictive_score(real, windows(100, True), iterations=800, batch_size=32)
    assert good.mean < 0.15 < 0.3 < bad.mean


def test_timegan_user_errors(rng):
    X = rng.normal(size=(20, 1, 8))
    with pytest.raises(DataError, match="2 channels"):
        timegan_predictive_score(X, X)
    with pytest.raises(DataError, match="shape"):
        timegan_discriminative_score(X, rng.normal(size=(20, 1, 9)))
    with pytest.raises(DataError, match="5 real"):
        timegan_discriminative_score(X, X[:3])
    with pytest.raises(ConfigError):
        timegan_discriminative_score(X, X, iterations=0)

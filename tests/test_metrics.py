"""Metrics on cases with known answers: identical sets, shifted sets, collapse, separators."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from imusynth.errors import DataError
from imusynth.metrics import (
    autocorrelation_distance,
    classification_metrics,
    classifier_frechet_distance,
    discriminative_score,
    diversity_ratio,
    frechet_distance,
    kinematic_plausibility,
    mmd_rbf,
    per_class,
    psd_distance,
    sensitivity_specificity,
    tstr_trts,
)


def ar1(n: int, phi: float, rng: np.random.Generator, c: int = 2, t: int = 128) -> np.ndarray:
    """AR(1) windows (n, c, t) with coefficient ``phi`` and unit innovations."""
    e = rng.normal(size=(n, c, t))
    x = np.zeros_like(e)
    x[..., 0] = e[..., 0]
    for i in range(1, t):
        x[..., i] = phi * x[..., i - 1] + e[..., i]
    return x


# -- classification ------------------------------------------------------------------------
def test_sensitivity_specificity_hand_made_matrix():
    cm = np.array([[5, 1, 0], [2, 6, 2], [0, 0, 4]])
    sens, spec = sensitivity_specificity(cm)
    np.testing.assert_allclose(sens, [5 / 6, 6 / 10, 4 / 4])
    # Class 0: TN = everything outside row 0 and column 0 = 6 + 2 + 0 + 4 = 12, FP = 2.
    np.testing.assert_allclose(spec, [12 / 14, 9 / 10, 14 / 16])


def test_sensitivity_of_absent_class_is_nan_and_reported_as_none():
    r = classification_metrics(np.array([0, 0]), np.array([0, 1]), labels=[0, 1, 2])
    assert r["sensitivity"]["1"] is None and r["sensitivity"]["2"] is None
    assert r["specificity"]["2"] == 1.0
    assert r["balanced_accuracy"] == 0.5  # only class 0 is present: recall 1/2


def test_classification_metrics_known_values():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    r = classification_metrics(y, p, class_names=["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(6 / 8)
    assert r["balanced_accuracy"] == pytest.approx((3 / 4 + 1 + 1 / 2) / 3)
    f1 = [2 * 3 / (2 * 3 + 1 + 1), 2 * 2 / (2 * 2 + 1), 2 * 1 / (2 * 1 + 1)]
    assert r["macro_f1"] == pytest.approx(np.mean(f1))
    assert r["confusion_matrix"] == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert r["sensitivity"] == pytest.approx({"a": 0.75, "b": 1.0, "c": 0.5})


class _NearestMean:
    """Tiny deterministic classifier: nearest class mean of the flattened window."""

    def fit(self, X, y, groups=None):
        self.classes_ = np.unique(y)
        flat = X.reshape(len(X), -1)
        self.means_ = np.stack([flat[y == c].mean(0) for c in self.classes_])
        return self

    def predict(self, X):
        flat = X.reshape(len(X), -1)
        d = ((flat[:, None] - self.means_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]


def test_tstr_trts_with_label_swapped_synthetic_data(rng):
    y = np.repeat([0, 1], 30)
    X = rng.normal(size=(60, 2, 8)) + 4 * y[:, None, None]
    X_test = rng.normal(size=(60, 2, 8)) + 4 * y[:, None, None]
    out = tstr_trts(_NearestMean, X, y, X, y, X_test, y)
    assert out["trtr"]["accuracy"] == out["tstr"]["accuracy"] == out["trts"]["accuracy"] == 1.0
    # A generator that mixes up the labels is useless for training and looks wrong to TRTS.
    out = tstr_trts(_NearestMean, X, y, X, 1 - y, X_test, y)
    assert out["trtr"]["accuracy"] == 1.0
    assert out["tstr"]["accuracy"] == 0.0 and out["trts"]["accuracy"] == 0.0


# -- discriminative score ------------------------------------------------------------------
def test_discriminative_score_perfect_separator_and_identical_distribution(rng):
    real = rng.normal(size=(120, 3, 64))
    assert discriminative_score(real, real + 3.0, seed=0) == pytest.approx(0.5)
    same = discriminative_score(real, rng.normal(size=(120, 3, 64)), seed=0)
    assert same < 0.15


def test_discriminative_score_balances_set_sizes(rng):
    real = rng.normal(size=(200, 1, 32))
    # 20 fakes vs 200 reals: without balancing, "always real" would score 0.41.
    score = discriminative_score(real, rng.normal(size=(20, 1, 32)), seed=1)
    assert score <= 0.3


def test_discriminative_score_is_deterministic(rng):
    real, fake = rng.normal(size=(60, 2, 32)), rng.normal(0.2, 1, size=(60, 2, 32))
    assert discriminative_score(real, fake, seed=3) == discriminative_score(real, fake, seed=3)


# -- Fréchet and MMD -----------------------------------------------------------------------
def test_frechet_identical_is_zero_and_shift_gives_squared_norm(rng):
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    for shift in (0.5, 1.0, 2.0):
        assert frechet_distance(a, a + [shift, 0, 0]) == pytest.approx(shift**2, rel=1e-6)


def test_frechet_scale_known_answer(rng):
    # N(0, I) vs N(0, s^2 I) in d dims: d (1 - s)^2.
    a = rng.normal(size=(20000, 2))
    b = rng.normal(size=(20000, 2)) * 2.0
    assert frechet_distance(a, b) == pytest.approx(2 * (1 - 2.0) ** 2, rel=0.05)


def test_frechet_singular_covariance_stays_finite(rng):
    # 10 samples in 50 dimensions: rank-deficient covariances.
    a, b = rng.normal(size=(10, 50)), rng.normal(size=(10, 50)) + 1.0
    d = frechet_distance(a, b)
    assert np.isfinite(d) and d > 40  # mean shift alone contributes 50


def test_classifier_frechet_uses_model_features(rng):
    model = SimpleNamespace(transform=lambda X: X[:, 0, :2] * 10.0)
    x = rng.normal(size=(3000, 1, 4))
    raw = classifier_frechet_distance(x, x + 1.0, model)
    assert raw == pytest.approx(2 * 10.0**2, rel=1e-6)
    assert classifier_frechet_distance(x, x + 1.0, model, standardize=True) == pytest.approx(
        2.0, rel=0.05
    )


def test_mmd_identical_near_zero_and_monotone_in_shift(rng):
    x = rng.normal(size=(300, 2, 5))
    y = rng.normal(size=(300, 2, 5))
    values = [mmd_rbf(x, y + s) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert abs(values[0]) < 0.01
    assert all(b > a for a, b in itertools.pairwise(values))


def test_mmd_of_a_set_with_itself_is_below_zero_bias(rng):
    # Unbiased estimator: identical sets give -2 E_off k / ... < 0 exactly, never > 0.
    x = rng.normal(size=(50, 4))
    assert mmd_rbf(x, x) < 0


# -- spectra, autocorrelation, diversity ---------------------------------------------------
def test_psd_distance_known_scaling_in_db(rng):
    x = rng.normal(size=(40, 3, 128))
    assert psd_distance(x, x) == 0.0
    for a in (1.5, 2.0, 4.0):
        assert psd_distance(x, a * x) == pytest.approx(20 * np.log10(a), rel=1e-9)


def test_psd_distance_grows_with_added_noise(rng):
    x = ar1(40, 0.95, rng)
    noise = rng.normal(size=x.shape)
    values = [psd_distance(x, x + s * noise) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(values))


def test_autocorrelation_distance_monotone_in_dynamics(rng):
    real = ar1(60, 0.0, rng)
    same = autocorrelation_distance(real, ar1(60, 0.0, rng))
    values = [autocorrelation_distance(real, ar1(60, phi, rng)) for phi in (0.3, 0.6, 0.9)]
    assert same < 0.02
    assert same < values[0] < values[1] < values[2]


def test_diversity_ratio_collapse_identity_and_spread(rng):
    x = rng.normal(size=(80, 2, 16))
    assert diversity_ratio(x, x) == pytest.approx(1.0)
    collapsed = np.repeat(x[:1], 80, axis=0) + 1e-3 * rng.normal(size=x.shape)
    assert diversity_ratio(x, collapsed) < 0.01
    assert diversity_ratio(x, 2 * x) == pytest.approx(2.0)


def test_per_class_applies_metric_per_label(rng):
    x = rng.normal(size=(40, 1, 64))
    y = np.repeat([0, 1], 20)
    fake = x.copy()
    fake[y == 1] *= 2.0
    out = per_class(psd_distance, x, y, fake, y, [0, 1, 2])
    assert out[0] == 0.0
    assert out[1] == pytest.approx(20 * np.log10(2.0))
    assert out[2] is None


def test_metrics_reject_mismatched_shapes(rng):
    with pytest.raises(DataError):
        psd_distance(rng.normal(size=(4, 2, 32)), rng.normal(size=(4, 3, 32)))
    with pytest.raises(DataError):
        frechet_distance(rng.normal(size=(10, 3)), rng.normal(size=(10, 4)))


# -- kinematic plausibility ----------------------------------------------------------------
def test_kinematic_plausibility_with_stub_fit():
    arm = SimpleNamespace(joint_limits=np.array([[-1.0, 1.0], [0.0, 2.0]]))
    calls = []

    def fit(acc, gyro, fs, model, steps=1):
        calls.append((acc.shape, gyro.shape, fs, steps))
        n, t = len(acc), acc.shape[2]
        q = np.full((n, 2, t), 0.5)
        q[1, 1, 3] = 1.999  # window 1 presses against the upper limit of joint 1
        r2 = np.array([[0.9] * 6, [0.1] * 6, [0.7] * 6])
        return SimpleNamespace(q=q, r2=r2)

    X = np.zeros((3, 6, 20), np.float32)
    r = kinematic_plausibility(X, 50.0, model=arm, fit=fit, steps=7)
    assert calls == [((3, 3, 20), (3, 3, 20), 50.0, 7)]
    assert r["within_rom"] == pytest.approx(2 / 3)
    assert r["explained"] == pytest.approx(2 / 3)
    assert r["ik_r2_mean"] == pytest.approx((0.9 + 0.1 + 0.7) / 3)


def test_kinematic_plausibility_fits_each_side_with_its_model():
    seen = []

    def factory(side):
        seen.append(side)
        return SimpleNamespace(joint_limits=np.array([[-1.0, 1.0]]))

    def fit(acc, gyro, fs, model):
        return SimpleNamespace(q=np.zeros((len(acc), 1, acc.shape[2])), r2=np.ones(len(acc)))

    X = np.zeros((4, 6, 10), np.float32)
    r = kinematic_plausibility(X, 50.0, side=["left", "right", "", "left"], model=factory, fit=fit)
    assert sorted(seen) == ["left", "right"] and r["within_rom"] == 1.0 and r["n"] == 4


def test_kinematic_plausibility_with_the_arm_model_rejects_noise():
    # Integration with the real inverse kinematics (few steps, to stay fast): white noise
    # cannot be explained by an arm within its range of motion.
    pytest.importorskip("imusynth.kinematics.ik")
    noise = np.random.default_rng(0).normal(0, 1.0, size=(1, 6, 50)).astype(np.float32)
    r = kinematic_plausibility(noise, 50.0, steps=5, restart_steps=0)
    assert r is not None and r["n"] == 1
    assert r["ik_r2_mean"] < 0.3 and r["explained"] == 0.0

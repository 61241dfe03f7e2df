"""CGANOverSampler: imbalanced-learn contract, layouts, determinism, errors, pipelines."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from imblearn.pipeline import make_pipeline
from imblearn.utils.estimator_checks import estimator_checks_generator as imblearn_checks
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.utils.estimator_checks import estimator_checks_generator as sklearn_checks

import imusynth
import imusynth.gan
from imusynth.errors import ConfigError, DataError
from imusynth.gan.oversampler import CGANOverSampler
from imusynth.train.config import GANConfig, load_config

# Small networks and two GAN steps: each fit takes a few hundredths of a second.
TINY = {
    "model.g_width": 32,
    "model.g_blocks": 1,
    "model.d_width": 8,
    "model.d_blocks": 1,
    "model.latent_dim": 8,
    "model.embed_dim": 4,
    "model.noise_channels": 0,
}


IMU = {"units": ("g",) * 3 + ("rad/s",) * 3, "gravity": True}  # watch-like windows


def tiny(**params) -> CGANOverSampler:
    params = {
        "steps": 2,
        "batch_size": 8,
        "overrides": TINY,
        "random_state": 0,
        "sampling_rate_hz": 50.0,
        "units": "a.u.",
        **params,
    }
    return CGANOverSampler(**params)


def windows(counts=(24, 10, 6), shape=(3, 16), seed=0):
    """Windows (N, C, T) float32 with class-dependent offsets, labels in class order."""
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = g.normal(size=(len(y), *shape)) + y[:, None, None]
    return X.astype(np.float32), y


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("strategy", ["auto", "minority", {1: 20, 2: 15}, 0.5])
def test_counts_follow_sampling_strategy_and_real_rows_come_first(strategy):
    X3, y = windows(counts=(24, 10, 6) if strategy != 0.5 else (24, 6))
    X = X3.reshape(len(X3), -1)  # (N, C * T)
    sampler = tiny(sampling_strategy=strategy, window_shape=(3, 16))
    X_res, y_res = sampler.fit_resample(X, y)

    before, after = Counter(y.tolist()), Counter(y_res.tolist())
    assert sum(sampler.sampling_strategy_.values()) > 0
    for label in before:
        assert after[label] == before[label] + sampler.sampling_strategy_.get(label, 0)
    # Real rows first, unchanged, in order; then only the classes asked for.
    assert np.array_equal(X_res[: len(X)], X) and np.array_equal(y_res[: len(y)], y)
    added = {k for k, n in sampler.sampling_strategy_.items() if n > 0}
    assert set(y_res[len(y) :].tolist()) == added
    synthetic = X_res[len(X) :]
    assert synthetic.dtype == np.float32 and np.isfinite(synthetic).all()
    # Generated, not copied: no synthetic row repeats a real one.
    assert not (synthetic[:, None, :] == X[None, :, :]).all(-1).any()
    assert sampler.window_shape_ == (3, 16)
    assert sampler.gan_.run_.length == 16 and len(sampler.gan_.run_.channels) == 3


def test_three_d_windows_give_three_d_windows_equal_to_the_flattened_result():
    X3, y = windows()
    X3_res, y3_res = tiny().fit_resample(X3, y)
    X2_res, y2_res = tiny(window_shape=(3, 16)).fit_resample(X3.reshape(len(X3), -1), y)
    assert X3_res.shape == (3 * 24, 3, 16)
    assert np.array_equal(X3_res[: len(X3)], X3)
    # Flattening is channel-major, the same on the way in and out.
    assert np.array_equal(X3_res.reshape(len(X3_res), -1), X2_res)
    assert np.array_equal(y3_res, y2_res)


def test_window_shape_is_inferred_when_not_given():
    X3, y = windows(shape=(6, 10))
    X = X3.reshape(len(X3), -1)  # (N, 60)
    assert tiny().fit(X, y).window_shape_ == (1, 60)  # conv1d: one channel
    assert tiny(generator="kinematic", **IMU).fit(X, y).window_shape_ == (6, 10)
    assert tiny(generator="kinematic", **IMU).fit(X3, y).window_shape_ == (6, 10)


def test_kinematic_generator_oversamples_watch_windows():
    X3, y = windows(counts=(16, 6), shape=(6, 20))
    X3[:, 2] += 1.0  # gravity on z, in g
    sampler = tiny(generator="kinematic", **IMU)
    X_res, y_res = sampler.fit_resample(X3.reshape(len(X3), -1), y)
    assert np.bincount(y_res).tolist() == [16, 16]
    assert np.array_equal(X_res[: len(X3)], X3.reshape(len(X3), -1))
    assert sampler.gan_.run_.joint_names  # the arm model made these windows
    again = tiny(generator="kinematic", **IMU).fit_resample(X3, y)[0]
    assert np.array_equal(again.reshape(len(again), -1), X_res)


def test_labels_keep_their_values_and_types():
    X3, y = windows(counts=(12, 5))
    labels = np.array(["walk", "run"])[y]
    X_res, y_res = tiny().fit_resample(X3.reshape(len(X3), -1).tolist(), labels.tolist())
    assert isinstance(X_res, list) and isinstance(y_res, list)
    assert Counter(y_res) == {"walk": 12, "run": 12}


def test_nothing_to_add_returns_the_input_without_training():
    X3, y = windows(counts=(8, 8))
    sampler = tiny()
    X_res, y_res = sampler.fit_resample(X3, y)
    assert np.array_equal(X_res, X3) and np.array_equal(y_res, y)
    assert sampler.gan_ is None and sampler.sampling_strategy_ == {1: 0}
    # Settings are still checked when no GAN is needed.
    with pytest.raises(ConfigError, match="g_wdth"):
        tiny(overrides={"model.g_wdth": 8}).fit_resample(X3, y)


def test_integer_windows_become_float():
    X3, y = windows(counts=(12, 4))
    X = np.round(X3.reshape(len(X3), -1) * 100).astype(np.int16)
    X_res, _ = tiny().fit_resample(X, y)
    assert X_res.dtype == np.float64 and np.array_equal(X_res[: len(X)], X)


# ----------------------------------------------------------------------------- determinism


def test_the_same_random_state_gives_the_same_output():
    X3, y = windows()
    first = tiny(random_state=3).fit_resample(X3, y)[0]
    second = clone(tiny(random_state=3)).fit_resample(X3, y)[0]
    other = tiny(random_state=4).fit_resample(X3, y)[0]
    assert np.array_equal(first, second)
    assert not np.array_equal(first[len(X3) :], other[len(X3) :])
    # A RandomState instance is drawn from (scikit-learn's convention), so two fits differ.
    sampler = tiny(random_state=np.random.RandomState(0))
    a, b = sampler.fit_resample(X3, y)[0], sampler.fit_resample(X3, y)[0]
    assert not np.array_equal(a[len(X3) :], b[len(X3) :])


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "shape", "error", "match"),
    [
        ({"window_shape": (4, 16)}, None, DataError, "45 features"),
        ({"window_shape": (3, 8)}, (3, 15), DataError, r"shape \(3, 15\)"),
        ({"window_shape": (45,)}, None, ConfigError, "two positive integers"),
        ({"window_shape": (0, 45)}, None, ConfigError, "two positive integers"),
        ({"window_shape": (2.5, 4)}, None, ConfigError, "two positive integers"),
        ({"generator": "kinematic"}, None, ConfigError, "do not split into 6 channels"),
        ({"generator": "kinematic"}, (3, 15), ConfigError, "kinematic generator makes 6"),
        ({"generator": "kinematic", "window_shape": (3, 15)}, None, ConfigError, "makes 6"),
        ({"overrides": {"model.g_wdth": 8}}, None, ConfigError, "g_wdth"),
        ({"overrides": {"model.g_width": "wide"}}, None, ConfigError, "g_width"),
        ({"overrides": {"train.steps": 5}}, None, ConfigError, "'steps' parameter"),
        ({"overrides": {"train.seed": 5}}, None, ConfigError, "'random_state' parameter"),
        ({"overrides": {"data.length": 5}}, None, ConfigError, "data settings"),
        ({"overrides": {"steps": 5}}, None, ConfigError, "section.key"),
        ({"batch_size": 500}, None, DataError, "fewer than one batch"),
        ({"generator": "dcgan"}, None, ValueError, "generator"),
        ({"steps": 0}, None, ValueError, "steps"),
    ],
)
def test_bad_input_raises_a_clear_value_error(params, shape, error, match):
    X3, y = windows(shape=(3, 15))
    X = X3 if shape is not None else X3.reshape(len(X3), -1)  # (N, 3, 15) or (N, 45)
    with pytest.raises(error, match=match) as info:
        tiny(**params).fit_resample(X, y)
    assert isinstance(info.value, ValueError)


def test_nan_and_single_class_are_refused():
    X3, y = windows()
    X3[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tiny().fit_resample(X3, y)
    with pytest.raises(ValueError, match="class"):
        tiny().fit_resample(windows()[0], np.zeros(40, dtype=int))


# ----------------------------------------------------------------------------- pipelines


def test_works_in_an_imblearn_pipeline_with_subject_wise_cross_validation():
    X3, y = windows(counts=(32, 12), shape=(6, 16))
    subjects = np.arange(len(y)) % 4
    X = X3.reshape(len(X3), -1)  # (N, C * T)
    pipe = make_pipeline(tiny(window_shape=(6, 16)), LogisticRegression(max_iter=200))
    scores = cross_validate(
        pipe, X, y, groups=subjects, cv=GroupKFold(2), return_estimator=True, return_indices=True
    )
    assert len(scores["test_score"]) == 2 and np.all(scores["test_score"] > 0.5)
    # Each fold's GAN saw, and balanced, that fold's training rows only.
    for fitted, train in zip(scores["estimator"], scores["indices"]["train"], strict=True):
        counts = np.bincount(y[train])
        sampler = fitted.steps[0][1]
        assert sampler.sampling_strategy_ == {1: counts[0] - counts[1]}
        assert sampler.gan_.run_.normalizer.mean_ == pytest.approx(
            X3[train].mean(axis=(0, 2)), abs=1e-4
        )


def test_exported_from_the_package():
    assert imusynth.CGANOverSampler is CGANOverSampler
    assert "CGANOverSampler" in imusynth.__all__
    assert imusynth.gan.CGANOverSampler is CGANOverSampler


def test_the_old_import_path_still_works_with_a_deprecation_warning():
    from imusynth.augment import cgan_sampler

    with pytest.warns(DeprecationWarning, match="imusynth.gan.oversampler"):
        assert cgan_sampler.CGANOverSampler is CGANOverSampler


# ----------------------------------------------------------------------------- estimator checks
# Built as lists: the libraries' parametrize_with_checks hand pytest a generator, which
# pytest deprecates (an error under filterwarnings=error).


def _check_cases(checks):
    cases = list(checks(tiny(), mark=None))
    return pytest.mark.parametrize(
        ("estimator", "check"), cases, ids=[check.func.__name__ for _, check in cases]
    )


# Every imbalanced-learn sampler check applies (sparse and pandas-sparse included: the
# sampler densifies) and none is skipped or expected to fail.
@_check_cases(imblearn_checks)
def test_imblearn_estimator_checks(estimator, check):
    check(estimator)


def test_imblearn_checks_cover_what_an_over_sampler_needs():
    names = {check.func.__name__ for _, check in imblearn_checks(tiny(), mark=None)}
    assert {
        "check_samplers_fit_resample",
        "check_samplers_sampling_strategy_fit_resample",
        "check_samplers_sparse",
        "check_samplers_pandas",
        "check_samplers_list",
        "check_samplers_multiclass_ova",
        "check_samplers_preserve_dtype",
    } <= names


# scikit-learn's API checks (cloning, parameters, validation), which imbalanced-learn also
# runs on its own samplers. Its array-API check skips itself unless SCIPY_ARRAY_API is set.
@_check_cases(sklearn_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- base config


def test_config_names_the_base_config_that_parameters_and_overrides_lie_over(tmp_path):
    shipped = load_config("watch_cgan.toml")  # the tuned default of imusynth train
    X, y = windows(counts=(12, 4), shape=(6, 64))
    sampler = tiny(config="watch_cgan.toml", generator=None, **IMU)
    sampler.fit_resample(X, y)
    used = sampler.gan_.run_.config
    assert used.model.generator == shipped.model.generator == "kinematic"
    assert used.model.d_stft == shipped.model.d_stft > 0  # kept from the file
    assert used.model.g_width == TINY["model.g_width"] != shipped.model.g_width  # overrides
    assert used.train.steps == 2 != shipped.train.steps  # the steps parameter
    path = tmp_path / "gan.toml"
    path.write_text('[train]\nloss = "bce"\n')
    assert tiny(config=path).fit_resample(*windows())[0].shape[0] > 40
    with pytest.raises(ConfigError, match="config file not found"):
        tiny(config=tmp_path / "missing.toml").fit_resample(*windows())


def test_without_config_the_base_is_the_dataclass_defaults():
    assert CGANOverSampler()._config() == GANConfig()
    assert CGANOverSampler(overrides={"train.loss": "bce"})._config() == GANConfig(
        train=dataclasses.replace(GANConfig().train, loss="bce")
    )

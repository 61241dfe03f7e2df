"""Bare arrays must say their rate, units and gravity; windows come back in their units.

At 10 Hz with the accelerometer in m/s^2 and gravity removed, and at 100 Hz with the
gyroscope in deg/s, for both generators, the estimator and the over-sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imusynth.data import WindowSet
from imusynth.data.units import from_internal
from imusynth.errors import ConfigError
from imusynth.gan import CGANOverSampler, ConditionalGAN, sample_run

TINY = dict(steps=2, batch_size=8, latent_dim=8, device="cpu")
SAMPLER_TINY = {
    "model.g_width": 32,
    "model.g_blocks": 1,
    "model.d_width": 8,
    "model.d_blocks": 1,
    "model.embed_dim": 4,
}
FREE_10HZ = dict(sampling_rate_hz=10.0, units=("m/s^2",) * 3 + ("rad/s",) * 3, gravity=False)
DEG_100HZ = dict(sampling_rate_hz=100.0, units=("g",) * 3 + ("deg/s",) * 3, gravity=True)
CASES = {"10 Hz m/s^2 no gravity": (FREE_10HZ, 50), "100 Hz deg/s": (DEG_100HZ, 200)}


def user_arrays(params: dict, length: int, counts=(12, 12), seed: int = 0):
    """Windows in the user's units: smooth motion plus noise, with a channel offset."""
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    t = np.arange(length) / params["sampling_rate_hz"]
    X = 0.3 * np.sin(2 * np.pi * 0.4 * t + g.uniform(0, 6, size=(len(y), 6, 1)))
    X = X + 0.05 * g.normal(size=X.shape)
    if params["gravity"]:
        X[:, 0] -= 1.0  # g
    if params["units"][0] == "m/s^2":
        X[:, :3] *= 9.80665
        X[:, 2] += 2.0  # an accelerometer bias, in m/s^2
    if params["units"][3] == "deg/s":
        X[:, 3:] = X[:, 3:] * 180 / math.pi + 20.0  # a gyro bias, in deg/s
    return X.astype(np.float32), y


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("generator", ["conv1d", "kinematic"])
def test_estimator_trains_in_g_and_rad_s_and_samples_in_the_users_units(case, generator, tmp_path):
    params, length = CASES[case]
    X, y = user_arrays(params, length)
    gan = ConditionalGAN(generator=generator, **TINY).fit(X, y, **params)
    run = gan.run_
    assert run.units == ("g",) * 3 + ("rad/s",) * 3 and run.source_units == params["units"]
    assert run.sampling_rate_hz == params["sampling_rate_hz"] and run.gravity is params["gravity"]
    assert run.channels == ("ax", "ay", "az", "wx", "wy", "wz")
    # The GAN saw the windows in g and rad/s ...
    to_internal = {"m/s^2": 1 / 9.80665, "deg/s": math.pi / 180}
    factors = np.array([to_internal.get(u, 1.0) for u in params["units"]])
    expected_mean = X.mean(axis=(0, 2)) * factors
    assert np.allclose(run.normalizer.mean_, expected_mean, rtol=1e-4, atol=1e-5)
    # ... and gives them back in the units it was given.
    Xs, _ = gan.sample(n_per_class=3, seed=0)
    internal = sample_run(run, 3, None, 0)[0]
    assert np.allclose(Xs, from_internal(internal, run.units, params["units"]), rtol=1e-6)
    assert not np.allclose(Xs, internal)
    again = ConditionalGAN.load(gan.save(tmp_path / "est"))
    assert np.array_equal(again.sample(n_per_class=3, seed=0)[0], Xs)
    if generator == "kinematic":
        assert run.generator.arm.gravity is params["gravity"]
        assert run.generator.joint_stride == round(params["sampling_rate_hz"] / 10)


@pytest.mark.parametrize(
    ("missing", "generator"),
    [("sampling_rate_hz", "conv1d"), ("units", "conv1d"), ("gravity", "kinematic")],
)
def test_arrays_without_what_they_must_say_are_refused(missing, generator):
    X, y = user_arrays(FREE_10HZ, 50)
    params = {k: v for k, v in FREE_10HZ.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        ConditionalGAN(generator=generator, **TINY).fit(X, y, **params)
    assert info.value.field == missing
    ConditionalGAN(generator="conv1d", **TINY).fit(X, y, sampling_rate_hz=10.0, units="a.u.")


@pytest.mark.parametrize(
    ("params", "field", "match"),
    [
        ({"units": ("g",) * 3}, "units", "3 units for 6 channels"),
        ({"sampling_rate_hz": 0.0}, "sampling_rate_hz", "above 0"),
        ({"units": ("m/s^2",) * 3 + ("furlong/s",) * 3}, "units", "unknown unit"),
    ],
)
def test_bad_array_parameters_name_the_parameter(params, field, match):
    X, y = user_arrays(FREE_10HZ, 50)
    with pytest.raises(ConfigError, match=match) as info:
        ConditionalGAN(generator="kinematic", **TINY).fit(X, y, **{**FREE_10HZ, **params})
    assert info.value.field == field


def test_a_window_set_brings_everything_and_is_passed_alone(tiny_windows):
    gan = ConditionalGAN(**TINY).fit(tiny_windows)
    assert gan.run_.sampling_rate_hz == tiny_windows.sampling_rate_hz
    assert gan.run_.classes == tiny_windows.classes and gan.run_.sides == ("left", "right")
    with pytest.raises(ConfigError) as info:
        ConditionalGAN(**TINY).fit(tiny_windows, sampling_rate_hz=10.0)
    assert info.value.field == "sampling_rate_hz"
    with pytest.raises(ConfigError) as info:
        ConditionalGAN(**TINY).fit(tiny_windows, tiny_windows.y)
    assert info.value.field == "y"


def test_a_window_set_in_other_units_is_converted_and_sampled_back(tiny_windows):
    X, y = user_arrays(FREE_10HZ, 50, counts=(8, 8))
    ws = WindowSet(
        X, y, np.repeat(["1", "2"], 8), ("a", "b"), ("ax", "ay", "az", "wx", "wy", "wz"),
        FREE_10HZ["units"], 10.0, gravity=False,
    )  # fmt: skip
    gan = ConditionalGAN(generator="kinematic", **TINY).fit(ws)
    assert gan.run_.units[0] == "g" and gan.run_.source_units == FREE_10HZ["units"]
    assert not gan.run_.gravity


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("generator", ["conv1d", "kinematic"])
def test_the_sampler_adds_rows_in_the_units_it_was_given(case, generator):
    params, length = CASES[case]
    X, y = user_arrays(params, length, counts=(16, 6))
    sampler = CGANOverSampler(
        generator=generator, steps=2, batch_size=8, overrides=SAMPLER_TINY, random_state=0,
        **params,
    )  # fmt: skip
    X_res, y_res = sampler.fit_resample(X.reshape(len(X), -1), y)  # (N, C * T)
    assert np.bincount(y_res).tolist() == [16, 16]
    run = sampler.gan_.run_
    assert run.source_units == params["units"] and run.gravity is params["gravity"]
    assert run.sampling_rate_hz == params["sampling_rate_hz"]
    if generator == "conv1d":  # a barely trained GAN makes windows near the data's mean
        fake = X_res[len(X) :].reshape(-1, 6, length)
        channel = 3 if params["units"][3] == "deg/s" else 2  # the biased channel
        ratio = fake[:, channel].mean() / X[:, channel].mean()
        assert 0.5 < ratio < 2.0  # in g or rad/s it would be 10x or 57x off


@pytest.mark.parametrize("missing", ["sampling_rate_hz", "units", "gravity"])
def test_the_sampler_refuses_arrays_without_what_they_must_say(missing):
    X, y = user_arrays(FREE_10HZ, 50, counts=(16, 6))
    params = {k: v for k, v in FREE_10HZ.items() if k != missing}
    sampler = CGANOverSampler(generator="kinematic", steps=2, batch_size=8, **params)
    with pytest.raises(ConfigError) as info:
        sampler.fit_resample(X, y)
    assert info.value.field == missing

"""Units of IMU channels: spellings, internal units, conversion factors; placement names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imusynth.data.units import (
    KINEMATIC_PLACEMENTS,
    KNOWN_UNITS,
    canonical_unit,
    from_internal,
    internal_unit,
    is_acceleration,
    placement_name,
    to_internal,
    unit_factor,
)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("m/s2", "m/s^2"),
        ("m/s²", "m/s^2"),
        ("ms^-2", "m/s^2"),
        ("m s^-2", "m/s^2"),
        ("dps", "deg/s"),
        ("°/s", "deg/s"),
        ("deg s^-1", "deg/s"),
        ("µT", "uT"),
        (" g ", "g"),
        ("a.u.", "a.u."),
        ("scaled", "scaled"),
    ],
)
def test_aliases_have_one_spelling(spelling, canonical):
    assert canonical_unit(spelling) == canonical


def test_unknown_unit_lists_the_accepted_ones():
    with pytest.raises(ValueError, match="unknown unit 'm/s'") as info:
        canonical_unit("m/s")
    for unit in KNOWN_UNITS:
        assert unit in str(info.value)


@pytest.mark.parametrize(
    ("unit", "internal"),
    [("g", "g"), ("m/s^2", "g"), ("mg", "g"), ("rad/s", "rad/s"), ("dps", "rad/s")]
    + [("uT", "uT"), ("µT", "uT"), ("a.u.", "a.u."), ("scaled", "scaled"), ("volts", "volts")],
)
def test_internal_unit(unit, internal):
    assert internal_unit(unit) == internal


def test_factors_are_the_known_constants():
    assert unit_factor("g", "m/s^2") == 9.80665
    assert unit_factor("m/s^2", "g") == 1 / 9.80665
    assert unit_factor("mg", "g") == 0.001 and unit_factor("g", "mg") == 1000.0
    assert unit_factor("deg/s", "rad/s") == math.pi / 180
    assert unit_factor("rad/s", "dps") == pytest.approx(180 / math.pi, rel=1e-15)
    assert unit_factor("uT", "µT") == 1.0
    for a, b in (("deg/s", "g"), ("uT", "g"), ("volts", "g")):
        with pytest.raises(ValueError, match="cannot convert"):
            unit_factor(a, b)


def test_to_internal_converts_each_channel_and_back():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 4, 16)).astype(np.float32) * np.float32(10)
    units = ("m/s^2", "mg", "deg/s", "uT")
    Xi, internal = to_internal(X, units)
    assert internal == ("g", "g", "rad/s", "uT") and Xi.dtype == np.float32
    np.testing.assert_allclose(Xi[:, 0], X[:, 0] / 9.80665, rtol=1e-6)
    np.testing.assert_allclose(Xi[:, 1], X[:, 1] / 1000, rtol=1e-6)
    np.testing.assert_allclose(Xi[:, 2], np.deg2rad(X[:, 2]), rtol=1e-6)
    np.testing.assert_array_equal(Xi[:, 3], X[:, 3])  # never converted
    back = from_internal(Xi, internal, units)
    np.testing.assert_allclose(back, X, rtol=2e-7, atol=0)
    assert not np.shares_memory(Xi, X)


def test_to_internal_leaves_internal_data_bit_for_bit():
    X = np.random.default_rng(1).normal(size=(3, 2, 8)).astype(np.float32)
    Xi, units = to_internal(X, ("g", "rad/s"))
    assert units == ("g", "rad/s") and Xi.tobytes() == X.tobytes()


def test_to_internal_checks_the_channel_count():
    with pytest.raises(ValueError, match="3 channels"):
        to_internal(np.zeros((1, 2, 4)), ("g", "g", "g"))
    with pytest.raises(ValueError, match="cannot convert"):
        from_internal(np.zeros((1, 1, 4)), ("g",), ("deg/s",))


def test_acceleration_channels():
    assert [is_acceleration(u) for u in ("m/s2", "g", "mg", "rad/s", "uT", "x")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("wrist", "wrist"),
        ("Wrist", "wrist"),
        ("left wrist", "wrist-left"),
        ("wrist_right", "wrist-right"),
        ("Upper arm", "upper-arm"),
        ("upperarm-left", "upper-arm-left"),
        ("right upper arm", "upper-arm-right"),
        ("hip", "hip"),
        ("Chest", "chest"),
        ("", ""),
    ],
)
def test_placement_names(text, name):
    assert placement_name(text) == name


def test_kinematic_placements_are_normalised_names():
    assert all(placement_name(p) == p for p in KINEMATIC_PLACEMENTS)
    with pytest.raises(ValueError, match="wrist!"):
        placement_name("wrist!")

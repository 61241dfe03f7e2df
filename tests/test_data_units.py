"""A user's data in m/s^2 and deg/s, at 10 Hz and 100 Hz, come out of the loaders in g and
rad/s, with their units, gravity and placement kept beside the windows and in the files."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from imusynth.data import (
    WindowSet,
    concatenate,
    load_spec,
    load_windows,
    read_windows,
    write_windows,
)
from imusynth.data.stream import WindowStream, fit_normalizer
from imusynth.errors import DataError, SpecError

CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")
USER_UNITS = ["m/s^2"] * 3 + ["deg/s"] * 3
G = 9.80665


def _recordings(rate: float, seconds: float = 3.0) -> dict[str, np.ndarray]:
    """Recording id -> (T, 6) signals in m/s^2 and deg/s: gravity on az plus motion."""
    rng = np.random.default_rng(int(rate))
    t = np.arange(int(seconds * rate)) / rate
    out = {}
    for k in range(4):
        acc = rng.normal(0.0, 2.0, (len(t), 3)) + np.array([0.0, 0.0, G])
        gyro = 90.0 * np.sin(2 * np.pi * 0.5 * t)[:, None] + rng.normal(0, 10.0, (len(t), 3))
        out[f"r{k}"] = np.hstack([acc, gyro]).astype(np.float32)
    return out


def _spec(tmp_path: Path, rate: float, signal_extra: str = "", units=USER_UNITS) -> Path:
    recs = _recordings(rate)
    frames = []
    for k, (rid, sig) in enumerate(recs.items()):
        frame = pd.DataFrame(sig, columns=list(CHANNELS))
        frame.insert(0, "time", np.arange(len(sig)) / rate)
        frame.insert(0, "label", ["ABD", "FEL"][k % 2])
        frame.insert(0, "subject", f"s{k // 2}")
        frame.insert(0, "recording", rid)
        frames.append(frame)
    pd.concat(frames).to_csv(tmp_path / "data.csv", index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f"""name = "user"
[source]
kind = "csv"
path = "data.csv"
[signal]
sampling_rate_hz = {rate}
channels = {list(CHANNELS)!r}
units = {list(units)!r}
{signal_extra}
[labels]
classes = ["ABD", "FEL"]
[columns]
time = "time"
[windows]
length_s = 1.0
stride_s = 0.5
""".replace("'", '"')
    )
    return spec


@pytest.mark.parametrize("rate", [10.0, 100.0])
def test_user_units_become_g_and_rad_per_s(tmp_path, rate):
    ws = load_windows(_spec(tmp_path, rate))
    assert ws.units == ("g",) * 3 + ("rad/s",) * 3
    assert ws.source_units == tuple(USER_UNITS)
    assert ws.gravity is True and ws.placement == ""
    n = int(rate)  # one second
    assert ws.X.shape[1:] == (6, n) and ws.sampling_rate_hz == rate
    # Every window against the recording it was cut from, converted by hand.
    recs = list(_recordings(rate).values())
    stride = n // 2
    for i in range(len(ws)):
        sig = recs[ws.recording[i]]
        first = int(np.sum(ws.recording[:i] == ws.recording[i]))
        raw = sig[first * stride : first * stride + n].T.astype(np.float64)  # (C, T)
        np.testing.assert_allclose(ws.X[i, :3], raw[:3] / G, rtol=1e-6)
        np.testing.assert_allclose(ws.X[i, 3:], raw[3:] * math.pi / 180, rtol=1e-6)
    # Gravity on az reads about 1 g, the 90 deg/s swing about pi/2 rad/s.
    assert abs(float(ws.X[:, 2].mean()) - 1.0) < 0.05
    assert 1.2 < float(np.abs(ws.X[:, 3:]).max()) < 3.0

    back = read_windows(write_windows(tmp_path / "w.h5", ws))
    assert back.units == ws.units and back.source_units == ws.source_units
    np.testing.assert_array_equal(back.X, ws.X)
    user = back.in_units(back.source_units)
    assert user.units == tuple(USER_UNITS) and user.source_units is None
    original = np.stack([recs[r][:n].T for r in range(4)])  # first window of each recording
    firsts = [int(np.flatnonzero(ws.recording == r)[0]) for r in range(4)]
    np.testing.assert_allclose(user.X[firsts], original, rtol=2e-7, atol=1e-6)


def test_units_in_internal_spelling_are_left_bit_for_bit(tmp_path):
    spec = _spec(tmp_path, 50.0, units=["g"] * 3 + ["rad/s"] * 3)
    ws = load_windows(spec)
    assert ws.source_units is None
    recs = list(_recordings(50.0).values())
    np.testing.assert_array_equal(ws.X[0], recs[0][:50].T)


def test_unknown_unit_names_the_field(tmp_path):
    spec = _spec(tmp_path, 10.0, units=["m/s^2"] * 3 + ["rpm"] * 3)
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert info.value.field == "signal.units" and "'rpm'" in info.value.message
    assert info.value.path == str(spec) and "deg/s" in info.value.message


def test_gravity_and_placement_reach_the_windows_and_the_file(tmp_path):
    spec = _spec(tmp_path, 10.0, 'gravity = false\nplacement = "Right wrist"')
    ws = load_windows(spec)
    assert ws.gravity is False and ws.placement == "wrist-right"
    path = write_windows(tmp_path / "w.h5", ws)
    with h5py.File(path) as f:
        assert not f.attrs["gravity"] and f.attrs["placement"] == "wrist-right"
        assert list(f.attrs["source_units"]) == USER_UNITS and f.attrs["units"][0] == "g"
    back = read_windows(path)
    assert back.gravity is False and back.placement == "wrist-right"
    assert back.subset(back.y == 0).gravity is False  # subsets keep them


def test_old_files_without_the_new_attributes_load(tmp_path, tiny_windows):
    path = write_windows(tmp_path / "old.h5", tiny_windows)
    with h5py.File(path, "a") as f:
        for name in ("gravity", "placement", "source_units"):
            f.attrs.pop(name, None)
    back = read_windows(path)
    assert back.gravity is True and back.placement == "" and back.source_units is None
    np.testing.assert_array_equal(back.X, tiny_windows.X)
    assert WindowStream(path).gravity is True


def test_a_file_written_in_user_units_reads_in_g_and_rad_per_s(tmp_path, tiny_windows):
    """A run may write its samples in the user's units; every reader gets g and rad/s."""
    user = tiny_windows.in_units(USER_UNITS)
    assert user.source_units == tiny_windows.units
    np.testing.assert_allclose(user.X[:, 0], tiny_windows.X[:, 0] * G, rtol=1e-6)
    path = write_windows(tmp_path / "user.h5", dataclasses.replace(user, source_units=None))
    with h5py.File(path) as f:
        assert list(f.attrs["units"]) == USER_UNITS  # written as they were
    back = read_windows(path)
    assert back.units == tiny_windows.units and back.source_units == tuple(USER_UNITS)
    np.testing.assert_allclose(back.X, tiny_windows.X, rtol=2e-7, atol=1e-7)
    # The streamed reader gives the same values, and so does its normaliser.
    stream = WindowStream(path, real_only=False)
    assert stream.units == back.units and stream.source_units == back.source_units
    np.testing.assert_array_equal(stream[np.arange(len(back))][0].numpy(), back.X)
    from imusynth.data import ChannelNormalizer

    exact = ChannelNormalizer().fit(back.X)
    np.testing.assert_allclose(fit_normalizer(path).scale_, exact.scale_, rtol=1e-6)


def test_in_units_refuses_a_unit_of_another_quantity(tiny_windows):
    with pytest.raises(DataError) as info:
        tiny_windows.in_units(["deg/s"] * 6)
    assert info.value.field == "units" and "cannot convert" in info.value.message
    with pytest.raises(DataError):
        tiny_windows.in_units(["g"])


def test_gravity_must_agree_between_sets(tiny_windows):
    linear = dataclasses.replace(tiny_windows, gravity=False)
    with pytest.raises(DataError) as info:
        tiny_windows.check_compatible(linear, name="synthetic")
    assert info.value.field == "gravity" and "gravity removed" in info.value.message
    tiny_windows.check_compatible(linear, check=("classes", "shape"))  # when not asked
    with pytest.raises(DataError, match="gravity"):
        concatenate([tiny_windows, linear])
    # Without accelerometer channels gravity does not matter.
    gyro = tiny_windows.subset(slice(None))
    gyro = dataclasses.replace(gyro, X=gyro.X[:, 3:], channels=CHANNELS[3:], units=("rad/s",) * 3)
    gyro.check_compatible(dataclasses.replace(gyro, gravity=False))


def test_concatenate_keeps_what_all_sets_share(tiny_windows):
    a = dataclasses.replace(tiny_windows, placement="wrist", source_units=tuple(USER_UNITS))
    both = concatenate([a, a])
    assert both.placement == "wrist" and both.source_units == tuple(USER_UNITS)
    mixed = concatenate([a, dataclasses.replace(a, placement="hip", source_units=None)])
    assert mixed.placement == "" and mixed.source_units is None


def test_windowset_checks_the_new_fields(tiny_windows):
    with pytest.raises(DataError) as info:
        dataclasses.replace(tiny_windows, gravity="no")
    assert info.value.field == "gravity"
    with pytest.raises(DataError) as info:
        dataclasses.replace(tiny_windows, source_units=("g",))
    assert info.value.field == "source_units"


def _h5_spec(tmp_path: Path, target: Path, signal_extra: str = "", units=USER_UNITS) -> Path:
    text = _spec(tmp_path, 10.0, signal_extra, units).read_text()
    text = text.replace('kind = "csv"', 'kind = "hdf5"').replace('"data.csv"', f'"{target}"')
    text = text.replace('[columns]\ntime = "time"\n', "")
    path = tmp_path / "h5spec.toml"
    path.write_text(text)
    return path


def test_hdf5_spec_must_agree_with_the_file(tmp_path):
    ws = load_windows(_spec(tmp_path, 10.0, 'gravity = false\nplacement = "wrist"'))
    path = write_windows(tmp_path / "w.h5", ws)
    got = load_windows(_h5_spec(tmp_path, path, 'gravity = false\nplacement = "wrist"'))
    assert got.units == ws.units and got.source_units == ws.source_units and not got.gravity
    with pytest.raises(DataError) as info:
        load_windows(_h5_spec(tmp_path, path, "gravity = true"))
    assert info.value.field == "signal.gravity"
    with pytest.raises(DataError) as info:
        load_windows(_h5_spec(tmp_path, path, "gravity = false", units=["g"] * 3 + ["rad/s"] * 3))
    assert info.value.field == "signal.units" and "m/s^2" in info.value.message
    with pytest.raises(DataError) as info:
        load_windows(_h5_spec(tmp_path, path, 'gravity = false\nplacement = "hip"'))
    assert info.value.field == "signal.placement"


def test_windowset_in_internal_units_by_default():
    ws = WindowSet(np.ones((1, 1, 4), np.float32), [0], ["s"], ("a",), ("x",), ("g",), 10.0)
    assert ws.source_units is None and ws.gravity is True and ws.placement == ""
    assert ws.to_internal().X.tobytes() == ws.X.tobytes()

"""Windowing, resampling, loading of recordings with known content, and WindowSet helpers."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data import (
    Recordings,
    WindowSet,
    concatenate,
    count_short,
    load_recordings,
    load_windows,
    make_windows,
    resample,
)
from imusynth.errors import DataError

from .conftest import ROOT


def _recs(lengths, rate=50.0):
    signals = [
        np.stack([np.arange(n, dtype=np.float32), -np.arange(n, dtype=np.float32)]) for n in lengths
    ]
    r = len(lengths)
    return Recordings(
        signals,
        np.arange(r) % 2,
        np.array([f"s{i}" for i in range(r)]),
        np.array(["right"] * r),
        np.array([f"r{i}" for i in range(r)]),
        ("A", "B"),
        ("x", "y"),
        ("g", "g"),
        rate,
    )


def test_windows_have_known_content():
    ws = make_windows(_recs([10, 7]), length=4, stride=3)
    # recording 0: starts 0, 3, 6; recording 1: starts 0, 3
    assert ws.X.shape == (5, 2, 4)
    np.testing.assert_array_equal(ws.X[:, 0, 0], [0, 3, 6, 0, 3])
    np.testing.assert_array_equal(ws.X[2, 0], [6, 7, 8, 9])
    np.testing.assert_array_equal(ws.X[:, 1], -ws.X[:, 0])
    np.testing.assert_array_equal(ws.recording, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(ws.y, [0, 0, 0, 1, 1])
    assert ws.X.dtype == np.float32 and ws.X.flags.c_contiguous


def test_short_recordings_error_drop_pad():
    recs = _recs([10, 3])
    with pytest.raises(DataError, match="r1 has 3 samples"):
        make_windows(recs, 4, 4, "error")
    dropped = make_windows(recs, 4, 4, "drop")
    assert count_short(recs, 4) == 1 and set(dropped.recording) == {0}
    padded = make_windows(recs, 4, 4, "pad")
    np.testing.assert_array_equal(padded.X[-1, 0], [0, 1, 2, 2])  # last sample repeated
    with pytest.raises(DataError, match="no recording"):
        make_windows(_recs([2, 3]), 4, 4, "drop")


def test_resample_halves_length_and_keeps_slow_signal():
    t = np.arange(500) / 50.0
    sig = np.sin(2 * np.pi * 0.5 * t).astype(np.float32)[None]
    recs = Recordings(
        [sig],
        np.array([0]),
        np.array(["s"]),
        np.array([""]),
        np.array(["r"]),
        ("A",),
        ("x",),
        ("g",),
        50.0,
    )
    out = resample(recs, 25.0)
    assert out.sampling_rate_hz == 25.0 and out.signals[0].shape == (1, 250)
    expected = np.sin(2 * np.pi * 0.5 * np.arange(250) / 25.0)
    np.testing.assert_allclose(out.signals[0][0, 20:-20], expected[20:-20], atol=1e-2)


def test_watch_data_loads_as_documented():
    recs = load_recordings(BUNDLED_DIR / "watch.toml")
    assert len(recs) == 140 and len(np.unique(recs.groups)) == 10
    assert np.bincount(recs.y).tolist() == [20] * 7
    assert set(recs.side) == {"left", "right"}
    ws = load_windows(BUNDLED_DIR / "watch.toml")
    assert ws.X.shape[1:] == (6, 250) and 1600 < len(ws) < 1900
    # the accelerometer is in g: a watch at rest-ish averages about 1 g in magnitude
    mag = np.linalg.norm(ws.X[:, :3], axis=1).mean()
    assert 0.8 < mag < 1.3


def test_csv_long_format_loads_sorted_by_time(tmp_path):
    import pandas as pd

    spec = ROOT / "data_specs" / "example_csv.toml"
    recs = load_recordings(spec)
    assert list(recs.ids) == ["r1", "r2", "r3", "r4"]
    assert list(recs.side) == ["right", "right", "left", "left"]
    assert recs.lengths.tolist() == [120, 100, 110, 30]
    # shuffling the rows must not change what is loaded (sorted by the time column)
    df = pd.read_csv(ROOT / "tests" / "data" / "tiny_long.csv").sample(frac=1.0, random_state=0)
    df.to_csv(tmp_path / "tiny_long.csv", index=False)
    text = spec.read_text().replace("../tests/data/tiny_long.csv", str(tmp_path / "tiny_long.csv"))
    (tmp_path / "s.toml").write_text(text)
    shuffled = load_recordings(tmp_path / "s.toml")
    by_id = dict(zip(shuffled.ids, shuffled.signals, strict=True))
    for rid, sig in zip(recs.ids, recs.signals, strict=True):
        np.testing.assert_array_equal(sig, by_id[rid])


def test_windowset_validates_and_subsets(tiny_windows):
    sub = tiny_windows.subset(tiny_windows.groups == "2")
    assert len(sub) == 8 and set(sub.groups) == {"2"} and sub.recording is not None
    both = concatenate([tiny_windows, sub])
    assert len(both) == 32 and both.class_counts() == {"ABD": 16, "FEL": 16}
    with pytest.raises(DataError, match="NaN"):
        WindowSet(np.full((1, 1, 4), np.nan), [0], ["s"], ("A",), ("x",), ("g",), 50.0)
    with pytest.raises(DataError) as info:
        WindowSet(np.zeros((1, 2, 4)), [0], ["s"], ("A",), ("x",), ("g",), 50.0)
    assert info.value.field == "channels"
    with pytest.raises(DataError) as info:
        WindowSet(np.zeros((1, 1, 4)), [3], ["s"], ("A",), ("x",), ("g",), 50.0)
    assert info.value.field == "y"

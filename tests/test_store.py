"""HDF5 store: exact round trip, provenance attributes, bad files, atomic writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from imusynth import __version__
from imusynth.data import read_windows, write_windows
from imusynth.errors import StoreError


def test_round_trip_is_exact(tmp_path, tiny_windows):
    ws = tiny_windows
    ws.joint_angles = np.random.default_rng(0).normal(size=(len(ws), 3, 32)).astype(np.float32)
    ws.joint_names = ("a", "b", "c")
    ws.is_synthetic[::3] = True
    path = write_windows(tmp_path / "w.h5", ws, source="unit-test")
    back = read_windows(path)
    for name in ("X", "y", "groups", "is_synthetic", "recording", "side", "joint_angles"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ws, name), err_msg=name)
    assert back.X.dtype == np.float32 and back.y.dtype == np.int64
    for name in ("classes", "channels", "units", "sampling_rate_hz", "joint_names"):
        assert getattr(back, name) == getattr(ws, name)
    with h5py.File(path) as f:
        assert f.attrs["source"] == "unit-test" and f.attrs["imusynth_version"] == __version__
        assert f["is_synthetic"].dtype == bool


def test_bad_files(tmp_path, tiny_windows):
    with pytest.raises(StoreError, match="not found"):
        read_windows(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(StoreError, match="unreadable or truncated"):
        read_windows(junk)
    good = write_windows(tmp_path / "good.h5", tiny_windows)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(StoreError):
        read_windows(truncated)
    with h5py.File(good, "a") as f:
        del f["y"]
    with pytest.raises(StoreError) as info:
        read_windows(good)
    assert info.value.field == "y"


def test_write_is_atomic(tmp_path, tiny_windows, monkeypatch):
    with pytest.raises(StoreError, match="does not exist"):
        write_windows(tmp_path / "missing" / "w.h5", tiny_windows)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.File, "create_dataset", boom)
    with pytest.raises(OSError, match="disk full"):
        write_windows(tmp_path / "w.h5", tiny_windows)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file


def test_written_files_get_default_permissions(tmp_path, tiny_windows):
    import os

    umask = os.umask(0o022)
    try:
        path = write_windows(tmp_path / "w.h5", tiny_windows)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644

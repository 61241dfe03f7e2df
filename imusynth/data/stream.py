"""Windows streamed from an HDF5 windows file, for data sets larger than memory.

:class:`WindowStream` is a map-style :class:`torch.utils.data.Dataset` over a file written by
:func:`~imusynth.data.store.write_windows`. It keeps only the small per-window columns (labels,
flags, sides) in memory and reads the windows ``X`` when they are asked for, normalised the
way the training loop sees them. Each process (a DataLoader worker, a ``torchrun`` rank)
opens its own read-only ``h5py`` handle on first use, so it can be handed to
``DataLoader(..., num_workers=N)`` and pickled for spawned workers.

Reads are fastest on a file written with chunks of whole windows (the default of
:func:`~imusynth.data.store.write_windows`): a batch then touches one chunk per window at
most, and ``lzf`` or no compression decompress faster than ``gzip``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from imusynth.data.normalize import ChannelNormalizer
from imusynth.data.store import (
    _convention,
    _dataset,
    _rate,
    _text,
    check_self_contained,
    needs_conversion,
)
from imusynth.data.units import from_internal, internal_unit
from imusynth.data.windows import as_codes
from imusynth.errors import DataError, StoreError

__all__ = ["WindowStream", "fit_normalizer"]

_ATTRS = ("classes", "channels", "units", "sampling_rate_hz")
_CONVENTION = ("source_units", "gravity", "placement")
_CACHE_BYTES = 16 << 20  # per-handle chunk cache: a few decompressed chunks of windows


class WindowStream(Dataset):
    """Windows of an HDF5 windows file, read lazily and normalised.

    ``ds[i]`` is ``(x (C, T) float32, y int64[, side int64])`` as tensors; ``ds[indices]``
    (a list, array or tensor of indices) the whole batch ``(x (B, C, T), y (B,)[, side
    (B,)])`` in one read, which is what :func:`imusynth.train.loop.dataset_loader` asks for.
    The values equal those of ``normalizer.transform(read_windows(path).X)`` exactly: a file
    in known units other than g and rad/s is converted to them as it is read, as
    :func:`~imusynth.data.store.read_windows` does.

    Parameters
    ----------
    path : str or Path
        A windows file (``X (N, C, T)``; images ``(N, 1, H, W)`` work the same way).
    normalizer : ChannelNormalizer, optional
        Fitted normaliser applied to every window (``None``: physical units as stored).
    real_only : bool
        Skip windows flagged ``is_synthetic`` (as :func:`imusynth.gan.train_run` does).
    sides : sequence of str, optional
        Also return each window's arm side, coded as its position in ``sides`` (the GAN's
        are :data:`imusynth.gan.SIDES`); every window used must have one of them.

    Attributes
    ----------
    y : ndarray (N,) int64
        Labels of the windows this dataset serves (after ``real_only``).
    side : ndarray (N,) int64 or None
    rows : ndarray (N,) int64
        Their rows in the file.
    classes, channels, units : tuple of str
        ``units`` as served (g and rad/s for IMU channels).
    source_units : tuple of str or None
        The file's units, when they were converted.
    sampling_rate_hz : float
    gravity : bool
    placement : str
    shape : tuple of int
        ``(C, T)`` of one window.

    Examples
    --------
    >>> import tempfile, os
    >>> from imusynth.data import WindowSet, write_windows
    >>> ws = WindowSet(np.ones((4, 2, 8), np.float32), [0, 1, 0, 1], list("aabb"), ("u", "v"),
    ...                ("x", "y"), ("g", "g"), 50.0)
    >>> f = write_windows(os.path.join(tempfile.mkdtemp(), "w.h5"), ws)
    >>> ds = WindowStream(f)
    >>> len(ds), ds[1][0].shape, ds[[0, 3]][1].tolist()
    (4, torch.Size([2, 8]), [0, 1])
    """

    def __init__(
        self,
        path: str | Path,
        normalizer: ChannelNormalizer | None = None,
        *,
        real_only: bool = True,
        sides: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.normalizer = normalizer
        self.real_only = real_only
        self.sides = None if sides is None else tuple(sides)
        meta = _read_columns(self.path)
        keep = ~meta["is_synthetic"] if real_only else np.ones(len(meta["y"]), bool)
        self.rows = np.flatnonzero(keep).astype(np.int64)
        self.y = meta["y"][self.rows]
        self.side = None
        if self.sides is not None:
            side = meta["side"]
            if side is None or not np.isin(side[self.rows], self.sides).all():
                raise StoreError(
                    f"every window needs a side out of {list(self.sides)}", path=path, field="side"
                )
            codes = {name: k for k, name in enumerate(self.sides)}
            self.side = np.array([codes[v] for v in side[self.rows]], dtype=np.int64)
        self.classes, self.channels = meta["classes"], meta["channels"]
        self.units, self.sampling_rate_hz = meta["units"], meta["sampling_rate_hz"]
        self.source_units, self._file_units = meta["source_units"], meta["file_units"]
        self.gravity, self.placement = meta["gravity"], meta["placement"]
        self.shape: tuple[int, ...] = meta["shape"]
        if normalizer is not None:
            if len(normalizer.mean_) != self.shape[0]:
                raise DataError(
                    f"the normaliser has {len(normalizer.mean_)} channels, the file "
                    f"{self.shape[0]}",
                    path=path,
                    field="X",
                )
            view = (1, -1) + (1,) * (len(self.shape) - 1)  # (1, C, 1[, 1])
            self._mean = np.asarray(normalizer.mean_, np.float64).reshape(view)
            self._scale = np.asarray(normalizer.scale_, np.float64).reshape(view)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        if isinstance(index, (int, np.integer)) or (torch.is_tensor(index) and index.ndim == 0):
            i = int(index)
            if not -len(self) <= i < len(self):
                raise IndexError(f"window {i} of {len(self)}")
            batch = self._batch(np.array([i % len(self)]))
            return tuple(t[0] for t in batch)
        return self._batch(np.asarray(index, dtype=np.int64).reshape(-1))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, ...]]:
        """One read for a DataLoader's auto-batched indices (then collated as usual)."""
        batch = self._batch(np.asarray(indices, dtype=np.int64).reshape(-1))
        return [tuple(t[k] for t in batch) for k in range(len(indices))]

    def _batch(self, idx: np.ndarray) -> tuple[Tensor, ...]:
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"window index out of range for {len(self)} windows")
        idx = idx % max(len(self), 1)
        X = self._read(self.rows[idx])  # (B, C, T) float32, physical units
        if self._file_units != self.units:
            X = from_internal(X, self._file_units, self.units)  # what read_windows does
        if self.normalizer is not None:
            # The arithmetic of ChannelNormalizer.transform, so the values are the same.
            X = ((X - self._mean) / self._scale).astype(np.float32)
        out = [torch.from_numpy(X), torch.from_numpy(self.y[idx])]
        if self.side is not None:
            out.append(torch.from_numpy(self.side[idx]))
        return tuple(out)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        dset = self._handle()["X"]
        if rows.size == 0:
            return np.zeros((0, *self.shape), np.float32)
        # h5py reads increasing, unique rows; read those once and put them back in order.
        uniq, inverse = np.unique(rows, return_inverse=True)
        lo, hi = int(uniq[0]), int(uniq[-1]) + 1
        if hi - lo <= 2 * len(uniq):  # dense: one contiguous read is cheaper than a selection
            block = dset[lo:hi]
            data = block[uniq - lo]
        else:
            data = dset[uniq]
        return np.asarray(data[inverse], dtype=np.float32)

    def _handle(self) -> h5py.File:
        # One handle per process: a handle opened before a fork must not be used after it.
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r", rdcc_nbytes=_CACHE_BYTES)
            except OSError as exc:
                raise StoreError(f"unreadable HDF5 file ({exc})", path=self.path) from None
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        """Close this process's file handle (reopened on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None  # a spawned worker opens its own
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: h5py may already be gone
            pass


def fit_normalizer(
    path: str | Path, *, real_only: bool = True, chunk_rows: int = 4096
) -> ChannelNormalizer:
    """A :class:`ChannelNormalizer` fit on a windows file without loading it whole.

    Two passes over blocks of ``chunk_rows`` windows, summing in float64: the mean and scale
    agree with ``ChannelNormalizer().fit(X)`` to about 1e-12 relative (the summation order
    differs, so not bit for bit; fit in memory where an exact match matters).

    Examples
    --------
    >>> import tempfile, os
    >>> from imusynth.data import WindowSet, write_windows
    >>> X = np.random.default_rng(0).normal(2.0, 3.0, (50, 2, 16)).astype(np.float32)
    >>> ws = WindowSet(X, np.zeros(50, int), ["s"] * 50, ("a",), ("x", "y"), ("g", "g"), 50.0)
    >>> f = write_windows(os.path.join(tempfile.mkdtemp(), "w.h5"), ws)
    >>> exact = ChannelNormalizer().fit(X)
    >>> bool(np.allclose(fit_normalizer(f, chunk_rows=7).scale_, exact.scale_, rtol=1e-10))
    True
    """
    meta = _read_columns(Path(path))
    keep = ~meta["is_synthetic"] if real_only else np.ones(len(meta["y"]), bool)
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise DataError("no windows to fit a normaliser on", path=path, field="X")
    axes = (0,) + tuple(range(2, 1 + len(meta["shape"])))
    per_window = int(np.prod(meta["shape"][1:]))
    count = rows.size * per_window
    total = np.zeros(meta["shape"][0])
    units = (meta["file_units"], meta["units"])
    with h5py.File(path, "r") as f:
        X = f["X"]
        for block in _blocks(X, rows, chunk_rows, units):
            total += block.sum(axis=axes, dtype=np.float64)
        mean = total / count
        view = (1, -1) + (1,) * (len(meta["shape"]) - 1)
        sq = np.zeros_like(total)
        for block in _blocks(X, rows, chunk_rows, units):
            sq += np.square(block - mean.reshape(view)).sum(axis=axes)
    norm = ChannelNormalizer()
    norm.mean_ = mean
    norm.scale_ = np.maximum(np.sqrt(sq / count), norm.eps)
    if not (np.all(np.isfinite(norm.mean_)) and np.all(np.isfinite(norm.scale_))):
        raise DataError("NaN or Inf in the windows", path=path, field="X")
    return norm


def _blocks(dset: h5py.Dataset, rows: np.ndarray, chunk_rows: int, units: tuple):
    """Blocks of windows in float64, converted from the file's units to the served ones."""
    for start in range(0, rows.size, max(1, chunk_rows)):
        part = rows[start : start + chunk_rows]
        lo, hi = int(part[0]), int(part[-1]) + 1
        block = dset[lo:hi][part - lo]
        if units[0] != units[1]:
            block = from_internal(block, *units)
        yield block.astype(np.float64)


def _read_columns(path: Path) -> dict[str, Any]:
    """The per-window columns and the attributes: everything but ``X`` (and ``groups``,
    which training does not use), checked as :func:`~imusynth.data.store.read_windows`
    checks them."""
    if not path.exists():
        raise StoreError("file not found", path=path)
    try:
        with h5py.File(path, "r") as f:
            check_self_contained(f, path)
            for name in ("X", "y", "groups", "is_synthetic"):
                if name not in f:
                    raise StoreError("missing dataset", path=path, field=name)
            X = _dataset(f, "X", path)
            shape = tuple(int(d) for d in X.shape)
            if len(shape) not in (3, 4):
                raise StoreError(f"expected X (N, C, T), got shape {shape}", path=path, field="X")
            if X.dtype.kind not in "iuf":
                raise StoreError(f"expected numbers, got dtype {X.dtype}", path=path, field="X")
            n = shape[0]
            y = _text(f, "y", path)
            synthetic = np.asarray(_dataset(f, "is_synthetic", path)[()], dtype=bool)
            side = _text(f, "side", path) if "side" in f else None
            for name in _ATTRS:
                if name not in f.attrs:
                    raise StoreError("missing attribute", path=path, field=name)
            attrs = {k: f.attrs[k] for k in (*_ATTRS, *_CONVENTION) if k in f.attrs}
    except StoreError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise StoreError(f"unreadable or truncated HDF5 file ({exc})", path=path) from None
    try:
        y = as_codes(y, "y")
        rate = _rate(attrs["sampling_rate_hz"], len(shape))
        convention = {"source_units": None, "gravity": True, "placement": ""}
        convention.update(_convention(attrs))
    except DataError as exc:
        raise StoreError(exc.message, path=path, field=exc.field) from None
    for name, arr in (("y", y), ("is_synthetic", synthetic), ("side", side)):
        if arr is not None and arr.shape != (n,):
            raise StoreError(f"expected shape ({n},), got {arr.shape}", path=path, field=name)
    classes = tuple(_strs(attrs["classes"]))
    if len(set(classes)) != len(classes):
        raise StoreError("class names must be unique", path=path, field="classes")
    if n and (y.min() < 0 or y.max() >= len(classes)):
        raise StoreError(f"label codes must lie in 0..{len(classes) - 1}", path=path, field="y")
    units = tuple(_strs(attrs["units"]))
    if len(units) != shape[1]:
        raise StoreError(f"expected one unit per channel ({shape[1]})", path=path, field="units")
    served = units
    if needs_conversion(units):
        served = tuple(internal_unit(u) for u in units)
        convention["source_units"] = convention["source_units"] or units
    if convention["source_units"] == served:
        convention["source_units"] = None
    return {
        "y": y,
        "is_synthetic": synthetic,
        "side": None if side is None else np.asarray(side).astype(str),
        "shape": shape[1:],
        "classes": classes,
        "channels": tuple(_strs(attrs["channels"])),
        "units": served,
        "file_units": units,
        "sampling_rate_hz": rate,
        **convention,
    }


def _strs(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]

"""The HDF5 window store: the file contract every stage reads and writes.

Datasets: ``X`` float32 (N, C, T) or (N, 1, H, W), ``y`` int64, ``groups`` (subject or
patient id, UTF-8 strings), ``is_synthetic`` bool; optionally ``recording`` int64, ``side``
strings and ``joint_angles`` float32 (N, J, T). Attributes: ``classes``, ``channels``,
``units``, ``sampling_rate_hz``, ``source``, ``imusynth_version`` (and ``joint_names``), and
``gravity`` (bool), ``placement`` and, when the windows were converted from other units,
``source_units`` (files without them read as gravity included, placement not stated).
Writes are atomic: a temporary file in the target folder, then a rename. Writing keeps the
units the set is in; reading converts known units to g and rad/s (``source_units`` then
records the units of the file), so every stage works in one convention. Reads take
``groups`` stored as integers as their decimal text, and refuse a file whose data live outside
it (external links, external storage, virtual datasets): such a file could copy the bytes of
any local file into what a command writes.

``X`` (and ``joint_angles``) are stored in chunks of whole windows, compressed with gzip by
default, so :class:`imusynth.data.stream.WindowStream` can read any batch of windows without
decompressing the rest; ``compression`` and ``chunk_rows`` tune that (lossless whatever the
choice: :func:`read_windows` gives back the same values).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from imusynth import __version__
from imusynth.data.units import internal_unit, unit_spelling
from imusynth.data.windows import ImageSet, WindowSet, as_codes, as_ids
from imusynth.errors import DataError, StoreError

__all__ = ["COMPRESSIONS", "atomic_path", "check_self_contained", "read_windows", "write_windows"]

COMPRESSIONS = ("gzip", "lzf", None)  # lossless filters every h5py build has

_STR = h5py.string_dtype("utf-8")
_REQUIRED = ("X", "y", "groups", "is_synthetic")
_ATTRS = ("classes", "channels", "units", "sampling_rate_hz")
_OPTIONAL_ATTRS = ("joint_names", "source", "source_units", "gravity", "placement")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, field: str = "out") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A failure anywhere inside the block leaves no partial file behind.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise StoreError(f"folder {str(path.parent)!r} does not exist", path=path, field=field)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file owner-only; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_windows(
    path: str | Path,
    ws: WindowSet,
    *,
    source: str | None = None,
    extra: dict[str, np.ndarray] | None = None,
    compression: str | None = "gzip",
    compression_level: int = 4,
    chunk_rows: int | None = None,
) -> Path:
    """Write ``ws`` to an HDF5 file atomically and return the path.

    Parameters
    ----------
    path : str or Path
    ws : WindowSet or ImageSet
    source : str, optional
        Provenance attribute (default: ``ws.source``).
    extra : dict of str to ndarray, optional
        Datasets beside the contract's (e.g. inverse-kinematics fit quality ``ik_r2``);
        readers that do not know them ignore them.
    compression : {"gzip", "lzf", None}
        Filter of ``X`` and ``joint_angles`` (byte shuffle first for gzip and lzf). ``lzf``
        writes and reads several times faster than gzip for somewhat larger files.
    compression_level : int
        gzip level, 0-9.
    chunk_rows : int, optional
        Windows per chunk. ``None``: about 1 MiB of whole windows per chunk; ``0``: no chunks
        (contiguous storage, only without compression).

    Examples
    --------
    >>> import tempfile, os
    >>> ws = WindowSet(np.ones((2, 1, 8), np.float32), [0, 1], ["a", "b"], ("u", "v"),
    ...                ("x",), ("g",), 50.0)
    >>> f = write_windows(os.path.join(tempfile.mkdtemp(), "w.h5"), ws)
    >>> read_windows(f).class_counts()
    {'u': 1, 'v': 1}
    """
    ws.validate()
    path = Path(path)
    storage = _storage(compression, compression_level, chunk_rows)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("X", data=ws.X, **storage(ws.X.shape))
        f.create_dataset("y", data=ws.y.astype(np.int64))
        f.create_dataset("groups", data=ws.groups.astype(object), dtype=_STR)
        f.create_dataset("is_synthetic", data=ws.is_synthetic.astype(bool))
        if ws.recording is not None:
            f.create_dataset("recording", data=ws.recording)
        if ws.side is not None:
            f.create_dataset("side", data=ws.side.astype(object), dtype=_STR)
        if ws.joint_angles is not None:
            q = ws.joint_angles
            f.create_dataset("joint_angles", data=q, **storage(q.shape))
            f.attrs["joint_names"] = list(ws.joint_names or ())
        for name, values in (extra or {}).items():
            if name in f:
                raise StoreError("extra dataset collides with a contract dataset", field=name)
            f.create_dataset(name, data=np.asarray(values))
        f.attrs["classes"] = list(ws.classes)
        f.attrs["channels"] = list(ws.channels)
        f.attrs["units"] = list(ws.units)
        f.attrs["sampling_rate_hz"] = float(ws.sampling_rate_hz)
        f.attrs["gravity"] = bool(ws.gravity)
        f.attrs["placement"] = ws.placement
        if ws.source_units is not None:
            f.attrs["source_units"] = list(ws.source_units)
        f.attrs["source"] = source if source is not None else ws.source
        f.attrs["imusynth_version"] = __version__
    return path


def _storage(compression: str | None, level: int, chunk_rows: int | None):
    """``shape -> create_dataset keywords`` for the window datasets, options checked first."""
    if compression not in COMPRESSIONS:
        raise StoreError(
            f"unknown compression {compression!r} (use gzip, lzf or none)", field="compression"
        )
    if chunk_rows is not None and chunk_rows < 0:
        raise StoreError(f"chunk_rows must be 0 or more, got {chunk_rows}", field="chunk_rows")
    if chunk_rows == 0 and compression is not None:
        raise StoreError("compression needs chunks (chunk_rows 0 means none)", field="chunk_rows")
    if compression == "gzip" and not 0 <= level <= 9:
        raise StoreError(f"gzip level must lie in 0..9, got {level}", field="compression_level")

    def keywords(shape: tuple[int, ...]) -> dict:
        if chunk_rows == 0 or shape[0] == 0:
            # h5py cannot chunk an empty dataset by rows; an empty one needs no filter.
            return {}
        out: dict = {"chunks": _chunks(shape, chunk_rows)}
        if compression is not None:
            out |= {"compression": compression, "shuffle": True}
            if compression == "gzip":
                out["compression_opts"] = level
        return out

    return keywords


def _chunks(shape: tuple[int, ...], rows: int | None = None) -> tuple[int, ...]:
    # About 1 MiB chunks of whole windows, so a streamed read of a batch touches few chunks.
    per_row = int(np.prod(shape[1:])) * 4
    if rows is None:
        rows = (1 << 20) // max(per_row, 1)
    return (max(1, min(shape[0], rows)),) + tuple(shape[1:])


def check_self_contained(f: h5py.File, path: str | Path) -> None:
    """Refuse an HDF5 file whose data may live outside it.

    External links, external raw storage and virtual datasets let a crafted file read the
    bytes of any other local file (say ``X`` stored in ``/etc/passwd``), which would then be
    copied into whatever the reader writes. A windows file handed in must hold its own data.

    Raises
    ------
    StoreError
        Naming the file and the offending dataset or link.
    """
    found: list[tuple[str, str]] = []

    def visit(name: str, link) -> None:
        if found:
            return
        if isinstance(link, h5py.ExternalLink):
            found.append((name, f"an external link to {link.filename}:{link.path}"))
        elif isinstance(link, h5py.HardLink):
            obj = f[name]
            if isinstance(obj, h5py.Dataset):
                if obj.external:
                    found.append((name, "stored in an external file"))
                elif obj.is_virtual:
                    found.append((name, "a virtual dataset (mapped from other files)"))

    f.visititems_links(visit)
    if found:
        name, what = found[0]
        raise StoreError(
            f"refused: {name} is {what}; a windows file must hold its own data",
            path=path,
            field=name,
        )


def _dataset(f: h5py.File, name: str, path: Path) -> h5py.Dataset:
    try:
        obj = f[name]
    except KeyError:  # a soft link to nothing: "name in f" is still true
        link = f.get(name, getlink=True)
        target = getattr(link, "path", "?")
        msg = f"a link to {target}, which does not exist"
        raise StoreError(msg, path=path, field=name) from None
    if not isinstance(obj, h5py.Dataset):
        raise StoreError(f"expected a dataset, found a {type(obj).__name__}", path=path, field=name)
    return obj


def _text(f: h5py.File, name: str, path: Path) -> np.ndarray:
    dset = _dataset(f, name, path)
    if dset.dtype.kind in "OSU" or h5py.check_string_dtype(dset.dtype) is not None:
        try:
            return np.asarray(dset.asstr()[()]).astype(str)
        except UnicodeDecodeError:
            raise StoreError("strings are not valid UTF-8", path=path, field=name) from None
    return np.asarray(dset[()])


def read_windows(path: str | Path) -> WindowSet:
    """Read a window (or image) file written by :func:`write_windows`.

    ``groups`` stored as integers are read as their decimal text (``7`` -> ``"7"``), as the
    loaders read integer subject columns. Windows stored in known units other than g and
    rad/s (say a run's samples written in the user's m/s^2) come back converted to g and
    rad/s, with the file's units as ``source_units``
    (:meth:`~imusynth.data.WindowSet.to_internal`); other units are left as they are.

    Raises
    ------
    StoreError
        If the file is missing, not HDF5, truncated, lacks a required dataset/attribute,
        holds a bad value (fractional labels, duplicate class names, a sampling rate that is
        not a positive number), or keeps data outside itself (external links or storage,
        virtual datasets). The error names the file and the dataset or attribute.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError("file not found", path=path)
    field = None
    try:
        with h5py.File(path, "r") as f:
            check_self_contained(f, path)
            for name in _REQUIRED:
                if name not in f:
                    raise StoreError("missing dataset", path=path, field=name)
            for name in _ATTRS:
                if name not in f.attrs:
                    raise StoreError("missing attribute", path=path, field=name)
            field = "X"
            X = _dataset(f, "X", path)[()]
            data = {}
            for name in ("y", "groups", "is_synthetic", "recording", "side", "joint_angles"):
                field = name
                data[name] = _text(f, name, path) if name in f else None
            field = "attrs"
            attrs = {}
            for name in (*_ATTRS, *_OPTIONAL_ATTRS):
                field = name
                if name in f.attrs:
                    attrs[name] = f.attrs[name]
    except StoreError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        where = "" if field is None else f"reading {field}: "
        raise StoreError(
            f"unreadable or truncated HDF5 file ({where}{exc})", path=path, field=field
        ) from None
    try:
        side = data["side"]
        if side is not None and side.dtype.kind != "U":
            raise DataError(f"expected text, got dtype {side.dtype}", field="side")
        kwargs = dict(
            y=as_codes(data["y"], "y"),
            groups=as_ids(data["groups"], "groups"),
            is_synthetic=data["is_synthetic"],
            recording=data["recording"],
            side=side,
            joint_angles=data["joint_angles"],
            joint_names=(
                tuple(_strs(attrs.get("joint_names", ())))
                if data["joint_angles"] is not None
                else None
            ),
            classes=tuple(_strs(attrs["classes"])),
            channels=tuple(_strs(attrs["channels"])),
            units=tuple(_strs(attrs["units"])),
            sampling_rate_hz=_rate(attrs["sampling_rate_hz"], np.ndim(X)),
            source=str(attrs.get("source", "")),
            **_convention(attrs),
        )
        cls = ImageSet if np.ndim(X) == 4 else WindowSet
        ws = cls(X=X, **kwargs)
        if needs_conversion(ws.units):
            ws = ws.to_internal()
        return ws
    except StoreError:
        raise
    except ValueError as exc:  # DataError from validation: name this file
        field = getattr(exc, "field", None)
        raise StoreError(getattr(exc, "message", str(exc)), path=path, field=field) from None


def needs_conversion(units) -> bool:
    """True when a channel is in a known unit other than the internal one (m/s^2, deg/s)."""
    return any(internal_unit(u) != unit_spelling(u) for u in units)


def _convention(attrs) -> dict:
    """``source_units``, ``gravity`` and ``placement`` from a file's attributes."""
    out: dict = {}
    if "source_units" in attrs:
        out["source_units"] = tuple(_strs(attrs["source_units"]))
    if "gravity" in attrs:
        value = np.asarray(attrs["gravity"])
        if value.size != 1 or value.dtype.kind not in "biu" or value.item() not in (0, 1):
            raise DataError(f"expected true or false, got {attrs['gravity']!r}", field="gravity")
        out["gravity"] = bool(value.item())
    if "placement" in attrs:
        out["placement"] = str(_strs(attrs["placement"])[0])
    return out


def _rate(value, ndim: int) -> float:
    """The ``sampling_rate_hz`` attribute: a positive number for windows, 0 for images."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise DataError(f"expected one number, got {value!r}", field="sampling_rate_hz")
    rate = float(arr.reshape(()))
    ok = np.isfinite(rate) and (rate == 0 if ndim == 4 else rate > 0)
    if not ok:
        want = "0 for images" if ndim == 4 else "a positive number"
        raise DataError(f"must be {want}, got {rate!r}", field="sampling_rate_hz")
    return rate


def _strs(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]

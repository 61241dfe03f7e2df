"""Loaders: the only place where file layouts become arrays."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from imusynth.data.spec import DatasetSpec, load_spec
from imusynth.data.store import read_windows
from imusynth.data.units import unit_spelling
from imusynth.data.windows import (
    ImageSet,
    Recordings,
    WindowSet,
    as_ids,
    make_windows,
    resample,
)
from imusynth.errors import ConfigError, DataError

__all__ = [
    "load_images",
    "load_recordings",
    "load_windows",
    "watch_dataset_path",
    "window_recordings",
]

log = logging.getLogger(__name__)

# seglearn's docstring: "the extremity side, 1 = right, 0 = left".
_WATCH_SIDES = {0: "left", 1: "right"}


def watch_dataset_path() -> Path:
    """Path of the Burns et al. smartwatch data shipped inside the installed seglearn."""
    found = importlib.util.find_spec("seglearn")
    if found is None or not found.submodule_search_locations:
        raise DataError(
            "the seglearn package is not installed (pip install seglearn==1.2.5)",
            field="source.kind",
        )
    path = Path(next(iter(found.submodule_search_locations))) / "data" / "watch_dataset.npy"
    if not path.exists():
        raise DataError(
            "seglearn is installed but its watch_dataset.npy is missing",
            path=path,
            field="source.kind",
        )
    return path


def load_recordings(spec: DatasetSpec | str | Path) -> Recordings:
    """Load the recordings a spec describes (every source kind except ``hdf5``), in the
    spec's units (:func:`window_recordings` converts the windows to g and rad/s).

    Long-format files (CSV, Parquet) are checked row by row: an empty or NaN recording id,
    subject, label or timestamp, a timestamp that is not a number (or a date), and a
    timestamp repeated within a recording (a duplicated row) raise :class:`DataError`
    naming the file and the column. Integer subject ids become text (``7`` -> ``"7"``).

    Examples
    --------
    >>> recs = load_recordings("watch.toml")  # doctest: +SKIP
    >>> len(recs), recs.classes[:3]  # doctest: +SKIP
    (140, ('PEN', 'ABD', 'FEL'))
    """
    if not isinstance(spec, DatasetSpec):
        spec = load_spec(spec)
    kind = spec.source.kind
    if spec.is_image:
        raise DataError(
            "an image source holds ROIs, not recordings; use load_windows or load_images",
            path=spec.path,
            field="source.kind",
        )
    if kind == "seglearn-watch":
        recs = _load_watch(spec)
    elif kind in ("csv", "parquet"):
        recs = _load_long(spec)
    else:
        raise DataError(
            "an hdf5 source holds windows, not recordings; use load_windows",
            path=spec.path,
            field="source.kind",
        )
    if spec.windows.resample_hz is not None:
        recs = resample(recs, spec.windows.resample_hz)
    return recs


def load_windows(
    spec: DatasetSpec | str | Path, length: int | None = None, stride: int | None = None
) -> WindowSet:
    """Load a spec's data as windows, using the spec's windowing unless overridden.

    ``length`` and ``stride`` are in samples at the spec's (resampled) rate. IMU windows
    come out in g and rad/s (``source_units``: the spec's units, when they differ), with
    the spec's ``gravity`` and ``placement``. An image spec gives an :class:`ImageSet` (see
    :func:`load_images`); it takes neither.
    """
    if not isinstance(spec, DatasetSpec):
        spec = load_spec(spec)
    if spec.is_image:
        if length is not None or stride is not None:
            raise DataError(
                "images are not cut into windows (no length or stride)",
                path=spec.path,
                field="windows.length",
            )
        return load_images(spec)
    if spec.source.kind == "hdf5":
        return _load_hdf5_windows(spec, length)
    return window_recordings(load_recordings(spec), spec, length, stride)


# Loader arguments -> the spec keys that set them (for error messages).
_LOADER_KEYS = {
    "n_per_class": "source.counts",
    "n_patients": "source.patients",
    "patient_pattern": "source.patient_pattern",
    "size": "image.size",
    "window": "image.window",
}


def load_images(spec: DatasetSpec | str | Path) -> ImageSet:
    """Load the ROIs of an image spec as an :class:`ImageSet` ``X (N, 1, size, size)``.

    Intensities lie in [-1, 1]; ``groups`` are patient ids; ``sampling_rate_hz`` is 0. The
    source kinds: ``"phantoms"`` (:func:`imusynth.data.phantoms.make_liver_phantoms`, drawn
    from ``source.seed``), ``"image-folder"`` (:func:`imusynth.data.images.load_image_folder`,
    one sub-folder per class) and ``"image-manifest"``
    (:func:`imusynth.data.images.load_image_manifest`, a CSV of path, label, patient); files
    are PNG, NPY or DICOM (``.dcm``, in Hounsfield units through its rescale tags; needs
    ``pip install imusynth[dicom]``), scaled to [-1, 1] through ``image.window``.

    Raises
    ------
    DataError
        Missing or malformed files (naming the file and the field), or a class folder or
        label the spec does not list.

    Examples
    --------
    >>> ims = load_images("liver_phantoms.toml")  # doctest: +SKIP
    >>> ims.X.shape, ims.class_counts()  # doctest: +SKIP
    ((182, 1, 64, 64), {'cyst': 53, 'metastasis': 64, 'hemangioma': 65})
    """
    from imusynth.data import images, phantoms

    if not isinstance(spec, DatasetSpec):
        spec = load_spec(spec)
    if not spec.is_image or spec.image is None:
        raise DataError(
            f"kind {spec.source.kind!r} is not an image source", path=spec.path, field="source.kind"
        )
    src, size, window = spec.source, spec.image.size, spec.image.window
    try:
        if src.kind == "phantoms":
            kwargs: dict = {"size": size, "rng": np.random.default_rng(src.seed)}
            if src.counts is not None:
                kwargs["n_per_class"] = src.counts
            if src.patients is not None:
                kwargs["n_patients"] = src.patients
            data = phantoms.make_liver_phantoms(**kwargs)
        elif src.kind == "image-folder":
            kwargs = {"classes": spec.classes, "size": size, "window": window}
            if src.patient_pattern is not None:
                kwargs["patient_pattern"] = src.patient_pattern
            data = images.load_image_folder(src.path, **kwargs)
        else:
            data = images.load_image_manifest(
                src.path, classes=spec.classes, size=size, window=window
            )
    except ConfigError as exc:
        # A spec value the loader rejects: name the spec file and the key.
        key = _LOADER_KEYS.get(exc.field or "", exc.field)
        raise DataError(exc.message, path=spec.path, field=key) from None
    return ImageSet(
        X=data["X"],
        y=data["y"],
        groups=data["groups"],
        classes=spec.classes,
        channels=spec.signal.channels,
        units=spec.signal.units,
        sampling_rate_hz=0.0,
        source=f"spec:{spec.name}",
        placement=spec.signal.placement,
    )


def window_recordings(
    recs: Recordings, spec: DatasetSpec, length: int | None = None, stride: int | None = None
) -> WindowSet:
    """:func:`make_windows` with the spec's defaults; errors name the spec file.

    The windows are converted to g and rad/s (:meth:`WindowSet.to_internal`) and carry the
    spec's ``gravity`` and ``placement``.
    """
    try:
        ws = make_windows(
            recs, length or spec.windows.length, stride or spec.windows.stride, spec.windows.short
        )
    except DataError as exc:
        if exc.path is None:
            raise DataError(exc.message, path=spec.path, field=exc.field) from None
        raise
    ws.gravity, ws.placement = spec.signal.gravity, spec.signal.placement
    return ws.to_internal()


def _check_channels(spec: DatasetSpec, n: int, where: Path | str) -> None:
    if n != len(spec.signal.channels):
        raise DataError(
            f"the data has {n} channels but the spec lists {len(spec.signal.channels)}",
            path=where,
            field="signal.channels",
        )


def _class_codes(spec: DatasetSpec, names, where: Path | str) -> np.ndarray:
    index = {c: i for i, c in enumerate(spec.classes)}
    unknown = sorted({str(n) for n in names} - index.keys())
    if unknown:
        raise DataError(
            f"class(es) {', '.join(unknown)} in the data are not listed in the spec",
            path=where,
            field="labels.classes",
        )
    return np.array([index[str(n)] for n in names], dtype=np.int64)


def _check_finite(sig: np.ndarray, channels, rec_id: str, where: Path | str) -> None:
    bad = ~np.isfinite(sig)
    if bad.any():
        ch, t = np.argwhere(bad)[0]
        raise DataError(
            f"NaN or Inf in recording {rec_id} at sample {t}", path=where, field=channels[ch]
        )


def _load_watch(spec: DatasetSpec) -> Recordings:
    path = watch_dataset_path()
    # A pickled dict: allowed for this one trusted file shipped by seglearn, never for user files.
    data = np.load(path, allow_pickle=True).item()
    _check_channels(spec, len(data["X_labels"]), path)
    names = [data["y_labels"][int(c)] for c in data["y"]]
    y = _class_codes(spec, names, path)
    ids = np.array([f"watch-{i:03d}" for i in range(len(data["X"]))])
    signals = []
    for rid, x in zip(ids, data["X"], strict=True):
        sig = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)  # (T, C) -> (C, T)
        _check_finite(sig, spec.signal.channels, rid, path)
        signals.append(sig)
    return Recordings(
        signals=signals,
        y=y,
        groups=np.array([str(int(s)) for s in data["subject"]]),
        side=np.array([_WATCH_SIDES[int(s)] for s in data["side"]]),
        ids=ids,
        classes=spec.classes,
        channels=spec.signal.channels,
        units=spec.signal.units,
        sampling_rate_hz=spec.signal.sampling_rate_hz,
        source=f"spec:{spec.name}",
    )


def _load_long(spec: DatasetSpec) -> Recordings:
    path = spec.source.path
    assert path is not None  # the spec parser requires a path for these kinds
    if not path.exists():
        raise DataError("data file not found", path=path, field="source.path")
    try:
        if spec.source.kind == "csv":
            df = pd.read_csv(path)
        else:
            df = pd.read_parquet(path)
    except ImportError as exc:
        raise DataError(
            f"cannot read Parquet ({exc}); pip install pyarrow", path=path, field="source.path"
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse file ({exc})", path=path, field="source.path") from None
    cols = spec.columns
    needed = [cols.recording, cols.subject, cols.label, *spec.signal.channels]
    needed += [c for c in (cols.time, cols.side) if c]
    for name in needed:
        if name not in df.columns:
            raise DataError("missing column", path=path, field=name)
    extra = [c for c in df.select_dtypes("number").columns if c not in needed]
    if extra:
        log.info("ignoring numeric columns not named in the spec: %s", ", ".join(map(str, extra)))
    for ch in spec.signal.channels:
        if not pd.api.types.is_numeric_dtype(df[ch]):
            raise DataError("channel column is not numeric", path=path, field=ch)
    if df.empty:
        raise DataError("no rows", path=path, field="source.path")
    _check_long_columns(df, spec, path)

    signals, labels, subjects, sides, ids = [], [], [], [], []
    for rec_id, rec in df.groupby(cols.recording, sort=False):
        if cols.time:
            rec = rec.sort_values(cols.time, kind="stable")
            dup = rec[cols.time].duplicated()
            if dup.any():
                # Two samples at one instant: a duplicated row or a merged file; keeping both
                # would stretch the recording.
                raise DataError(
                    f"recording {rec_id} has the timestamp {rec[cols.time][dup].iloc[0]} more "
                    f"than once (data row {int(rec.index[dup][0]) + 1})",
                    path=path,
                    field=cols.time,
                )
        for key in (cols.label, cols.subject) + ((cols.side,) if cols.side else ()):
            if rec[key].nunique(dropna=False) != 1:
                raise DataError(f"recording {rec_id} has more than one value", path=path, field=key)
        sig = rec[list(spec.signal.channels)].to_numpy(np.float32).T  # (T, C) -> (C, T)
        _check_finite(sig, spec.signal.channels, str(rec_id), path)
        signals.append(np.ascontiguousarray(sig))
        labels.append(rec[cols.label].iloc[0])
        subjects.append(rec[cols.subject].iloc[0])
        sides.append(_side(rec[cols.side].iloc[0], path, cols.side) if cols.side else "")
        ids.append(str(rec_id))
    try:
        groups = as_ids(np.array(subjects, dtype=object), cols.subject)
    except DataError as exc:
        raise DataError(exc.message, path=path, field=cols.subject) from None
    return Recordings(
        signals=signals,
        y=_class_codes(spec, labels, path),
        groups=groups,
        side=np.array(sides),
        ids=np.array(ids),
        classes=spec.classes,
        channels=spec.signal.channels,
        units=spec.signal.units,
        sampling_rate_hz=spec.signal.sampling_rate_hz,
        source=f"spec:{spec.name}",
    )


def _check_long_columns(df: pd.DataFrame, spec: DatasetSpec, path: Path) -> None:
    """Missing ids, labels and timestamps are errors (pandas would drop or sort them)."""
    cols = spec.columns
    for key in (cols.recording, cols.subject, cols.label, cols.time):
        if not key:
            continue
        missing = df[key].isna()
        if missing.any():
            # groupby drops rows without a recording id; a NaN subject becomes "nan".
            raise DataError(
                f"empty or NaN value in data row {int(np.flatnonzero(missing)[0]) + 1}",
                path=path,
                field=key,
            )
    if cols.time:
        t = df[cols.time]
        if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_datetime64_any_dtype(t)):
            # Text timestamps would sort as text ("10" before "9").
            bad = pd.to_numeric(t, errors="coerce").isna()
            row = int(np.flatnonzero(bad)[0]) if bad.any() else 0
            raise DataError(
                f"time column is not numeric (data row {row + 1}: {t.iloc[row]!r})",
                path=path,
                field=cols.time,
            )
        if pd.api.types.is_bool_dtype(t):
            raise DataError("time column holds true/false, not times", path=path, field=cols.time)
        if pd.api.types.is_numeric_dtype(t) and not np.isfinite(t.to_numpy(np.float64)).all():
            raise DataError("time column holds Inf", path=path, field=cols.time)
    else:
        dups = int(df.duplicated().sum())
        if dups:
            log.warning(
                "%s: %d row(s) repeat an earlier row exactly; without a time column they are "
                "kept as samples (name the time column in [columns] to have them checked)",
                path,
                dups,
            )


def _side(value, path: Path, column: str) -> str:
    text = str(value).strip().lower()
    aliases = {
        "l": "left",
        "left": "left",
        "0": "left",
        "r": "right",
        "right": "right",
        "1": "right",
    }
    if text not in aliases:
        raise DataError(f"side must be left/right (or l/r), got {value!r}", path=path, field=column)
    return aliases[text]


def _load_hdf5_windows(spec: DatasetSpec, length: int | None) -> WindowSet:
    path = spec.source.path
    assert path is not None
    ws = read_windows(path)
    if ws.channels != spec.signal.channels:
        _check_channels(spec, len(ws.channels), path)
        raise DataError(
            f"channels {ws.channels} differ from the spec's", path=path, field="signal.channels"
        )
    unknown = sorted(set(ws.classes) - set(spec.classes))
    if unknown:
        raise DataError(
            f"class(es) {', '.join(unknown)} in the data are not listed in the spec",
            path=path,
            field="labels.classes",
        )
    if length is not None and length != ws.X.shape[-1]:
        raise DataError(
            f"stored windows have {ws.X.shape[-1]} samples; cannot re-window to {length}",
            path=path,
            field="windows.length",
        )
    _check_convention(spec, ws, path)
    # Re-code labels into the spec's class order.
    remap = np.array([spec.classes.index(c) for c in ws.classes], dtype=np.int64)
    ws.y = remap[ws.y]
    ws.classes = spec.classes
    ws.placement = spec.signal.placement or ws.placement
    return ws


def _check_convention(spec: DatasetSpec, ws: WindowSet, path: Path) -> None:
    """The file's units (as written), gravity and placement agree with the spec's."""
    stored = tuple(unit_spelling(u) for u in ws.source_units or ws.units)
    if stored != spec.signal.units:
        raise DataError(
            f"the file's units {list(stored)} differ from the spec's {list(spec.signal.units)}",
            path=path,
            field="signal.units",
        )
    if ws.gravity != spec.signal.gravity:
        raise DataError(
            f"the file says gravity = {str(ws.gravity).lower()}, the spec "
            f"{str(spec.signal.gravity).lower()}",
            path=path,
            field="signal.gravity",
        )
    if spec.signal.placement and ws.placement and ws.placement != spec.signal.placement:
        raise DataError(
            f"the file's placement {ws.placement!r} differs from the spec's "
            f"{spec.signal.placement!r}",
            path=path,
            field="signal.placement",
        )

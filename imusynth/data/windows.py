"""Recordings, windows, and the step between them (resampling, windowing)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from imusynth.data.units import from_internal, internal_unit, is_acceleration, unit_spelling
from imusynth.errors import DataError

# What a watch IMU window holds, in this order: accelerometer [g] then gyroscope [rad/s].
IMU_CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")
IMU_UNITS = ("g", "g", "g", "rad/s", "rad/s", "rad/s")
_UNIT_NAMES = {IMU_UNITS: "accelerometer in g and gyroscope in rad/s"}
# What WindowSet.check_compatible compares unless told otherwise.
CHECKS = ("classes", "channels", "units", "shape", "sampling_rate_hz", "gravity")

__all__ = [
    "IMU_CHANNELS",
    "IMU_UNITS",
    "ImageSet",
    "Recordings",
    "WindowSet",
    "concatenate",
    "count_short",
    "make_windows",
    "resample",
]


def as_codes(values, field: str = "y") -> np.ndarray:
    """Integer codes as int64; a non-integral, non-finite or non-numeric value is an error.

    A plain ``astype(int64)`` would truncate 1.7 to 1 and silently relabel the window.

    Examples
    --------
    >>> as_codes([0, 1.0, 2])
    array([0, 1, 2])
    >>> as_codes([0.5])
    Traceback (most recent call last):
    ...
    imusynth.errors.DataError: y: must be whole numbers, got 0.5
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b" or (arr.size and arr.dtype.kind not in "f"):
        raise DataError(f"must be integers, got dtype {arr.dtype}", field=field)
    if arr.size == 0:
        return arr.astype(np.int64)
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        raise DataError(f"must be whole numbers, got {arr[bad].flat[0].item()!r}", field=field)
    return arr.astype(np.int64)


def as_ids(values, field: str = "groups") -> np.ndarray:
    """Subject (or patient) ids as strings: text as it is, integers as ``"7"``.

    Integer subject ids are common, so they are accepted, and written the same way whether
    they came from a CSV column, an HDF5 dataset or a float column that only holds whole
    numbers (``7.0`` -> ``"7"``). NaN, Inf, fractions and booleans are errors.

    Examples
    --------
    >>> as_ids([3, 12]).tolist(), as_ids(np.array([3.0])).tolist(), as_ids(["s1"]).tolist()
    (['3', '12'], ['3'], ['s1'])
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        return as_codes(arr, field).astype(str)
    if arr.dtype.kind == "S":
        return np.char.decode(arr, "utf-8")
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "O":
        out = []
        for v in arr.reshape(-1):
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            elif isinstance(v, (bool, np.bool_)) or v is None:
                raise DataError(f"ids must be text or integers, got {v!r}", field=field)
            elif isinstance(v, (float, np.floating, int, np.integer)):
                v = str(as_codes([v], field)[0])
            out.append(str(v))
        return np.array(out, dtype=str).reshape(arr.shape)
    raise DataError(f"ids must be text or integers, got dtype {arr.dtype}", field=field)


@dataclass
class Recordings:
    """Variable-length recordings, one label, subject and side each.

    ``signals[i]`` is a float32 array ``(C, T_i)`` sampled at ``sampling_rate_hz``.
    """

    signals: list[np.ndarray]
    y: np.ndarray  # (R,) int64 class codes
    groups: np.ndarray  # (R,) str subject ids
    side: np.ndarray  # (R,) str: "left", "right" or ""
    ids: np.ndarray  # (R,) str recording ids
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float
    source: str = ""

    def __len__(self) -> int:
        return len(self.signals)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([s.shape[1] for s in self.signals], dtype=np.int64)


@dataclass
class WindowSet:
    """Fixed-length windows ``X (N, C, T)`` with their labels and provenance.

    The one container every later stage consumes: training, sampling, evaluation and the
    HDF5 store. Images use the same container (:class:`ImageSet`) with ``X (N, 1, H, W)``.

    The loaders give IMU windows in g and rad/s (:mod:`imusynth.data.units`);
    ``source_units`` are the units the user's data came in when they differ (``None``: the
    same as ``units``), so results can be written back in them (:meth:`in_units`).
    ``gravity``: the accelerometer channels include gravity (specific force, as a raw
    accelerometer measures it); ``False``: linear acceleration with gravity removed.
    ``placement``: where the sensor is worn (``"wrist"``, ``"upper-arm-left"``, ``"hip"``...;
    ``""``: not stated).

    Examples
    --------
    >>> ws = WindowSet(
    ...     X=np.zeros((4, 6, 250), np.float32), y=np.array([0, 1, 0, 1]),
    ...     groups=np.array(["1", "1", "2", "2"]), classes=("PEN", "ABD"),
    ...     channels=("ax", "ay", "az", "wx", "wy", "wz"),
    ...     units=("g", "g", "g", "rad/s", "rad/s", "rad/s"), sampling_rate_hz=50.0)
    >>> ws.subset(ws.groups == "2").X.shape
    (2, 6, 250)
    >>> ws.class_counts()
    {'PEN': 2, 'ABD': 2}
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float
    recording: np.ndarray | None = None
    side: np.ndarray | None = None
    is_synthetic: np.ndarray = field(default=None)  # type: ignore[assignment]
    joint_angles: np.ndarray | None = None
    joint_names: tuple[str, ...] | None = None
    source: str = ""
    source_units: tuple[str, ...] | None = None
    gravity: bool = True
    placement: str = ""

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.dtype.kind not in "iuf":
            raise DataError(f"expected numbers, got dtype {X.dtype}", field="X")
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        n = len(self.X)
        self.y = as_codes(self.y, "y")
        self.groups = as_ids(self.groups, "groups")
        self.classes, self.channels = tuple(self.classes), tuple(self.channels)
        self.units = tuple(self.units)
        if self.source_units is not None:
            self.source_units = tuple(self.source_units)
            if self.source_units == self.units:  # nothing was converted
                self.source_units = None
        if not isinstance(self.gravity, (bool, np.bool_)):
            raise DataError(f"must be true or false, got {self.gravity!r}", field="gravity")
        self.gravity = bool(self.gravity)
        if not isinstance(self.placement, str):
            raise DataError(f"must be text, got {self.placement!r}", field="placement")
        if self.is_synthetic is None:
            self.is_synthetic = np.zeros(n, dtype=bool)
        flags = np.asarray(self.is_synthetic)
        if flags.dtype != bool:
            # 0/1 are accepted; 0.5 or 7 would silently become True.
            flags = as_codes(flags, "is_synthetic")
            if flags.size and (flags.min() < 0 or flags.max() > 1):
                raise DataError("must be true/false (or 0/1)", field="is_synthetic")
        self.is_synthetic = flags.astype(bool)
        if self.recording is not None:
            self.recording = as_codes(self.recording, "recording")
        if self.side is not None:
            self.side = np.asarray(self.side).astype(str)
        if self.joint_angles is not None:
            self.joint_angles = np.asarray(self.joint_angles, dtype=np.float32)
            self.joint_names = tuple(self.joint_names or ())
        self.validate()

    def validate(self) -> None:
        """Check shapes and values; raises :class:`DataError` naming the field."""
        if self.X.ndim not in (3, 4):
            raise DataError(f"expected (N, C, T) or (N, 1, H, W), got {self.X.shape}", field="X")
        n = len(self.X)
        for name in ("y", "groups", "is_synthetic", "recording", "side"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise DataError(f"expected shape ({n},), got {arr.shape}", field=name)
        if self.X.shape[1] != len(self.channels):
            raise DataError(
                f"X has {self.X.shape[1]} channels but {len(self.channels)} channel names",
                field="channels",
            )
        if len(self.units) != len(self.channels):
            raise DataError("one unit per channel is required", field="units")
        if self.source_units is not None and len(self.source_units) != len(self.channels):
            raise DataError("one source unit per channel is required", field="source_units")
        for name in ("classes", "channels"):
            names = getattr(self, name)
            if len(set(names)) != len(names):
                # Two codes with one name would merge classes when re-coded by name.
                dup = sorted({c for c in names if names.count(c) > 1})
                raise DataError(f"names must be unique, {', '.join(dup)} repeats", field=name)
        rate = self.sampling_rate_hz
        if not (isinstance(rate, (int, float, np.number)) and np.isfinite(rate) and rate >= 0):
            raise DataError(f"must be a finite number >= 0, got {rate!r}", field="sampling_rate_hz")
        if n and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise DataError(
                f"label codes must lie in 0..{len(self.classes) - 1}, got {self.y.min()}.."
                f"{self.y.max()}",
                field="y",
            )
        if not np.all(np.isfinite(self.X)):
            raise DataError("NaN or Inf in signal values", field="X")
        if self.joint_angles is not None:
            if self.joint_angles.shape[0] != n or self.joint_angles.ndim != 3:
                raise DataError(
                    f"expected (N, J, T) with N={n}, got {self.joint_angles.shape}",
                    field="joint_angles",
                )
            if len(self.joint_names or ()) != self.joint_angles.shape[1]:
                raise DataError("one name per joint coordinate is required", field="joint_names")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, index: np.ndarray | slice) -> WindowSet:
        """Rows selected by a boolean mask, integer index or slice."""

        def take(a):
            return None if a is None else a[index]

        return dataclasses.replace(
            self,
            X=self.X[index],
            y=self.y[index],
            groups=self.groups[index],
            recording=take(self.recording),
            side=take(self.side),
            is_synthetic=self.is_synthetic[index],
            joint_angles=take(self.joint_angles),
        )

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=self.n_classes)
        return {c: int(k) for c, k in zip(self.classes, counts, strict=True)}

    def in_units(self, units: Sequence[str]) -> WindowSet:
        """A copy with ``X`` converted to ``units`` (one per channel).

        ``source_units`` keep the units the data first came in (``None`` once converted
        back to them), so ``ws.in_units(ws.source_units)`` writes results in the user's units.

        Raises
        ------
        DataError
            A unit of another quantity than its channel's, or not one unit per channel.

        Examples
        --------
        >>> ws = WindowSet(np.ones((1, 2, 4), np.float32), [0], ["s1"], ("a",),
        ...                ("ax", "wx"), ("g", "rad/s"), 50.0)
        >>> user = ws.in_units(["m/s^2", "deg/s"])
        >>> [round(float(v), 4) for v in user.X[0, :, 0]], user.units, user.source_units
        ([9.8067, 57.2958], ('m/s^2', 'deg/s'), ('g', 'rad/s'))
        >>> back = user.to_internal()  # back to the units it first came in
        >>> back.X[0, :, 0].tolist(), back.units, back.source_units
        ([1.0, 1.0], ('g', 'rad/s'), None)
        """
        units = tuple(unit_spelling(u) for u in units)
        try:
            X = from_internal(self.X, self.units, units)
        except ValueError as exc:
            raise DataError(str(exc), field="units") from None
        original = self.source_units or self.units
        return dataclasses.replace(self, X=X, units=units, source_units=original)

    def to_internal(self) -> WindowSet:
        """A copy in g and rad/s (:func:`imusynth.data.units.internal_unit` of each channel),
        with the units it was in recorded as ``source_units``.

        Examples
        --------
        >>> ws = WindowSet(np.full((1, 1, 4), 19.6133, np.float32), [0], ["s1"], ("a",),
        ...                ("ax",), ("m/s2",), 50.0)
        >>> g = ws.to_internal()
        >>> g.X[0, 0, :2].tolist(), g.units, g.source_units
        ([2.0, 2.0], ('g',), ('m/s2',))
        """
        return self.in_units([internal_unit(u) for u in self.units])

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], **fields: object) -> WindowSet:
        """A set from a mapping that holds its fields by name, e.g. what
        :func:`imusynth.kinematics.simulate_dataset` returns.

        Keys that are not fields of the set (``"mount"``, ``"exercise"``) are left out;
        ``fields`` add to or replace the mapping's (``source="simulate"``).

        Examples
        --------
        >>> d = {"X": np.zeros((2, 1, 8)), "y": [0, 1], "groups": ["s1", "s1"],
        ...      "classes": ("a", "b"), "channels": ("x",), "units": ("g",),
        ...      "sampling_rate_hz": 50.0, "mount": np.zeros((2, 3))}
        >>> WindowSet.from_mapping(d, source="test").source
        'test'
        """
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs.update(fields)
        return cls(**kwargs)  # type: ignore[arg-type]

    def require_channels(
        self,
        channels: Sequence[str] = IMU_CHANNELS,
        units: Sequence[str] | None = IMU_UNITS,
        *,
        path: str | Path | None = None,
    ) -> list[int]:
        """Positions of ``channels`` in this set; raise :class:`DataError` unless all are
        present (in ``units`` when given).

        The one channel check of the package; by default the watch IMU's accelerometer in g
        and gyroscope in rad/s, what the arm model explains. ``path`` is the file the set
        came from, named in the error.

        Examples
        --------
        >>> ws = WindowSet(np.zeros((1, 2, 8), np.float32), [0], ["s1"], ("a",),
        ...                ("wx", "ax"), ("rad/s", "g"), 50.0)
        >>> ws.require_channels(("ax", "wx"), ("g", "rad/s"))
        [1, 0]
        >>> ws.require_channels(("ax", "ay"), None)
        Traceback (most recent call last):
        ...
        imusynth.errors.DataError: channels: needs channels ax, ay; missing ay
        >>> ws.require_channels(("ax", "wx"), ("g", "g"))
        Traceback (most recent call last):
        ...
        imusynth.errors.DataError: units: needs units ['g', 'g'], got ['g', 'rad/s']
        """
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise DataError(
                f"needs channels {', '.join(channels)}; missing {', '.join(missing)}",
                path=path,
                field="channels",
            )
        idx = [self.channels.index(c) for c in channels]
        got = [self.units[i] for i in idx]
        if units is not None and got != list(units):
            wanted = _UNIT_NAMES.get(tuple(units), f"units {list(units)}")
            raise DataError(f"needs {wanted}, got {got}", path=path, field="units")
        return idx

    def check_compatible(
        self,
        other: WindowSet,
        *,
        check: Sequence[str] = CHECKS,
        name: str = "other",
        like: str = "this set",
    ) -> None:
        """Raise :class:`DataError` unless ``other`` can stand beside this set.

        The one compatibility check of the package: evaluation, the Turing kit, sampling
        from a run and :func:`concatenate` all compare two sets through it.

        Parameters
        ----------
        other : WindowSet
        check : sequence of str
            What must agree: ``"classes"``, ``"channels"``, ``"units"``, ``"shape"`` (one
            window's shape, ``X.shape[1:]``), ``"sampling_rate_hz"`` and ``"gravity"``
            (whether accelerometer channels include gravity; sets without any agree).
        name, like : str
            How the message names ``other`` and this set ("synthetic", "train").

        Examples
        --------
        >>> a = WindowSet(np.zeros((2, 1, 8), np.float32), [0, 1], ["s1", "s2"], ("a", "b"),
        ...               ("x",), ("g",), 50.0)
        >>> a.check_compatible(dataclasses.replace(a, classes=("a", "c")), name="test")
        Traceback (most recent call last):
        ...
        imusynth.errors.DataError: classes: test classes ['a', 'c'] differ from this set ['a', 'b']
        """
        unknown = set(check) - set(CHECKS)
        if unknown:
            raise ValueError(f"unknown checks: {sorted(unknown)}")
        for attr in ("classes", "channels", "units"):
            if attr in check and tuple(getattr(other, attr)) != tuple(getattr(self, attr)):
                raise DataError(
                    f"{name} {attr} {list(getattr(other, attr))} differ from {like} "
                    f"{list(getattr(self, attr))}",
                    field=attr,
                )
        if "shape" in check and other.X.shape[1:] != self.X.shape[1:]:
            raise DataError(
                f"{name} windows have shape {other.X.shape[1:]}, {like} {self.X.shape[1:]}",
                field="X",
            )
        if "sampling_rate_hz" in check and not np.isclose(
            other.sampling_rate_hz, self.sampling_rate_hz
        ):
            raise DataError(
                f"{name} is sampled at {other.sampling_rate_hz} Hz, {like} at "
                f"{self.sampling_rate_hz} Hz",
                field="sampling_rate_hz",
            )
        accelerometer = any(is_acceleration(u) for u in (*self.units, *other.units))
        if "gravity" in check and accelerometer and other.gravity != self.gravity:
            raise DataError(
                f"{name} {_GRAVITY[other.gravity]}, {like} {_GRAVITY[self.gravity]}",
                field="gravity",
            )


_GRAVITY = {
    True: "has gravity in its accelerometer channels",
    False: "has linear acceleration (gravity removed)",
}


class ImageSet(WindowSet):
    """A :class:`WindowSet` of images ``(N, 1, H, W)``; ``sampling_rate_hz`` is 0."""


def concatenate(sets: list[WindowSet]) -> WindowSet:
    """Stack window sets that share classes, channels, units, rate and gravity.

    ``source_units`` and ``placement`` are kept where all sets agree (else ``None`` and
    ``""``: not one value for all).
    """
    if not sets:
        raise DataError("nothing to concatenate")
    first = sets[0]
    for i, other in enumerate(sets[1:], start=1):
        first.check_compatible(other, name=f"set {i}", like="set 0")

    def cat(name, fill):
        parts = [getattr(s, name) for s in sets]
        if all(p is None for p in parts):
            return None
        return np.concatenate(
            [fill(s) if p is None else p for s, p in zip(sets, parts, strict=True)]
        )

    with_joints = [s.joint_angles is not None for s in sets]
    joints = None
    if all(with_joints) and len({s.joint_names for s in sets}) == 1:
        joints = np.concatenate([s.joint_angles for s in sets])
    return dataclasses.replace(
        first,
        X=np.concatenate([s.X for s in sets]),
        y=np.concatenate([s.y for s in sets]),
        groups=np.concatenate([s.groups for s in sets]),
        recording=cat("recording", lambda s: np.full(len(s), -1, np.int64)),
        side=cat("side", lambda s: np.full(len(s), "", dtype="<U5")),
        is_synthetic=np.concatenate([s.is_synthetic for s in sets]),
        joint_angles=joints,
        joint_names=first.joint_names if joints is not None else None,
        source_units=_common([s.source_units for s in sets], None),
        placement=_common([s.placement for s in sets], ""),
    )


def _common(values: list, default):
    return values[0] if all(v == values[0] for v in values) else default


def resample(recs: Recordings, rate_hz: float) -> Recordings:
    """Resample every recording to ``rate_hz`` with a polyphase anti-aliasing filter."""
    if rate_hz == recs.sampling_rate_hz:
        return recs
    ratio = Fraction(rate_hz / recs.sampling_rate_hz).limit_denominator(1000)
    signals = [
        resample_poly(s, ratio.numerator, ratio.denominator, axis=1).astype(np.float32)
        for s in recs.signals
    ]
    return dataclasses.replace(recs, signals=signals, sampling_rate_hz=float(rate_hz))


def make_windows(recs: Recordings, length: int, stride: int, short: str = "error") -> WindowSet:
    """Cut recordings into windows of ``length`` samples every ``stride`` samples.

    Parameters
    ----------
    recs : Recordings
    length, stride : int
        In samples at ``recs.sampling_rate_hz``.
    short : {"error", "drop", "pad"}
        What to do with a recording shorter than one window: raise :class:`DataError`,
        skip it (use :func:`count_short` to report how many), or pad it to one window by
        repeating its last sample (so no energy is invented).

    Examples
    --------
    >>> recs = Recordings([np.arange(10, dtype=np.float32)[None]], np.array([0]),
    ...     np.array(["s1"]), np.array([""]), np.array(["r0"]), ("A",), ("x",), ("g",), 50.0)
    >>> make_windows(recs, length=4, stride=3).X[:, 0, 0]
    array([0., 3., 6.], dtype=float32)
    """
    if length < 1 or stride < 1:
        raise DataError("window length and stride must be at least 1 sample", field="length")
    if short not in ("error", "drop", "pad"):
        raise DataError(f"unknown short-recording rule {short!r}", field="windows.short")
    xs, rows = [], []
    for r, sig in enumerate(recs.signals):
        t = sig.shape[1]
        if t < length:
            if short == "error":
                raise DataError(
                    f"recording {recs.ids[r]} has {t} samples, shorter than one window of "
                    f"{length} (set windows.short to 'drop' or 'pad')",
                    field="windows.length",
                )
            if short == "drop":
                continue
            sig = np.pad(sig, ((0, 0), (0, length - t)), mode="edge")
            t = length
        starts = np.arange(0, t - length + 1, stride)
        # (C, T) -> (n_windows, C, length) as a strided view, copied once below
        view = np.lib.stride_tricks.sliding_window_view(sig, length, axis=1)[:, starts]
        xs.append(np.transpose(view, (1, 0, 2)))  # (W, C, L)
        rows.append(np.full(len(starts), r, dtype=np.int64))
    if not xs:
        raise DataError(
            f"no recording is at least one window ({length} samples) long", field="windows.length"
        )
    rec_idx = np.concatenate(rows)
    return WindowSet(
        X=np.concatenate(xs).astype(np.float32),
        y=recs.y[rec_idx],
        groups=recs.groups[rec_idx],
        classes=recs.classes,
        channels=recs.channels,
        units=recs.units,
        sampling_rate_hz=recs.sampling_rate_hz,
        recording=rec_idx,
        side=recs.side[rec_idx],
        source=recs.source,
    )


def count_short(recs: Recordings, length: int) -> int:
    """How many recordings are shorter than one window (what the "drop" rule skips)."""
    return int(np.sum(recs.lengths < length))

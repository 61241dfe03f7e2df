"""Dataset specs: TOML files read into frozen, validated dataclasses.

A spec describes where recordings come from and how to read them; it holds no data. Its
sections are dataclasses whose fields (type hints and defaults) are the schema, read by the
project's one config mechanism (:func:`imusynth.config.from_dict`), then checked as a whole
(channel counts, units, windowing, image options). Every key is checked: an unknown key, a
missing required key, or a value of the wrong type raises
:class:`~imusynth.errors.SpecError` naming the file and the dotted key.

Layout (``imusynth/configs/watch.toml`` is a complete example)::

    name = "watch"
    description = "..."

    [source]
    kind = "seglearn-watch"     # or "csv", "parquet", "hdf5"
    path = "my_data.csv"        # csv/parquet/hdf5 only; relative to the spec file

    [signal]
    sampling_rate_hz = 50.0
    channels = ["ax", "ay", "az", "wx", "wy", "wz"]
    units = ["g", "g", "g", "rad/s", "rad/s", "rad/s"]   # or "m/s^2", "mg", "deg/s", ...:
                                # see imusynth.data.units; windows are converted to g and
                                # rad/s on load (the original units are kept beside them)
    gravity = true              # default; false: the accelerometer channels hold linear
                                # acceleration, gravity removed
    placement = "wrist"         # or wrist-left/-right, upper-arm(-left/-right), or another
                                # word (hip, chest) that the arm model cannot explain

    [labels]
    classes = ["PEN", "ABD", ...]

    [columns]                   # long-format files only
    recording = "recording"
    subject = "subject"
    label = "label"
    time = "time"               # optional; rows are sorted by it within a recording
    side = "side"               # optional

    [windows]
    length = 250                # samples, or length_s = 5.0
    stride = 125                # samples, or stride_s = 2.5
    short = "drop"              # recordings shorter than one window: "error" (default),
                                # "drop" (skip them, and say how many) or "pad" (repeat the
                                # last sample up to one window)
    resample_hz = 50.0          # optional: resample every recording to this rate first

Image specs (``imusynth/configs/liver_phantoms.toml``, ``data_specs/example_rois.toml``) describe
ROIs ``(N, 1, H, W)`` instead; they have no ``[windows]`` or ``[columns]`` section, one
channel, and a sampling rate of 0 (``sampling_rate_hz`` may be left out)::

    [source]
    kind = "image-folder"       # or "image-manifest" (path: a CSV with columns path,
                                # label, patient) or "phantoms" (no path)
    path = "rois"               # one sub-folder per class, named as in labels.classes,
                                # of .png, .npy or .dcm files (DICOM: pip install imusynth[dicom])
    patient_pattern = '^(?P<patient>[A-Za-z0-9]+)_'   # image-folder only; default: see data.images
    # phantoms only: seed = 0, counts = [53, 64, 65], patients = 60

    [signal]
    channels = ["intensity"]
    units = ["scaled"]          # intensities are mapped to [-1, 1]

    [image]
    size = 64                   # side in pixels after resizing (default 64)
    window = [-50.0, 200.0]     # optional, files only: intensity window mapped to [-1, 1]
                                # (e.g. Hounsfield units of NPY files, or of DICOM files
                                # after their rescale slope and intercept); see data.images
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from imusynth.config import field_rules, find_config_file, from_dict
from imusynth.data.units import KINEMATIC_PLACEMENTS, KNOWN_UNITS, canonical_unit, placement_name
from imusynth.errors import ConfigError, SpecError

__all__ = [
    "IMAGE_KINDS",
    "KINEMATIC_PLACEMENTS",
    "ColumnSpec",
    "DatasetSpec",
    "ImageSpec",
    "SignalSpec",
    "SourceSpec",
    "WindowSpec",
    "load_spec",
    "parse_spec",
]

SIGNAL_KINDS = ("seglearn-watch", "csv", "parquet", "hdf5")
IMAGE_KINDS = ("phantoms", "image-folder", "image-manifest")
SOURCE_KINDS = SIGNAL_KINDS + IMAGE_KINDS
PATH_KINDS = tuple(k for k in SOURCE_KINDS if k not in ("seglearn-watch", "phantoms"))
SHORT_RULES = ("error", "drop", "pad")


def _for_kinds(*kinds: str, required: bool = False, key: str = "kind") -> dict[str, Any]:
    return field_rules(used_with=(key, kinds), required=required)


@dataclass(frozen=True)
class SourceSpec:
    """Where the data come from (``[source]``); the image-only keys keep their defaults for
    signal sources."""

    kind: str = field(metadata=field_rules(choices=SOURCE_KINDS))
    # Relative to the spec file in TOML; resolved against it when the spec is read.
    path: Path | None = field(default=None, metadata=_for_kinds(*PATH_KINDS, required=True))
    seed: int = field(default=0, metadata=_for_kinds("phantoms"))  # seeds the phantoms
    # Lesions per class (None: the paper's) and number of patients (None: the generator's).
    counts: tuple[int, ...] | None = field(default=None, metadata=_for_kinds("phantoms"))
    patients: int | None = field(default=None, metadata=_for_kinds("phantoms"))
    # Regex for the patient id in file names.
    patient_pattern: str | None = field(default=None, metadata=_for_kinds("image-folder"))


@dataclass(frozen=True)
class SignalSpec:
    """What the channels hold (``[signal]``).

    ``units`` are canonically spelled (:func:`imusynth.data.units.canonical_unit`): the
    units the data files are in; windows are converted from them to g and rad/s on load.
    ``sampling_rate_hz`` is required for signal sources and 0 for images. ``gravity``: the
    accelerometer channels include gravity (specific force, what a raw accelerometer
    measures); false for linear acceleration with gravity removed. ``placement``: where the
    sensor is worn, normalised (:func:`imusynth.data.units.placement_name`); "" = not stated.
    """

    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float | None = None
    placement: str = ""
    gravity: bool = True


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns of a long-format file hold what (``[columns]``)."""

    recording: str = "recording"
    subject: str = "subject"
    label: str = "label"
    time: str | None = None
    side: str | None = None


@dataclass(frozen=True)
class WindowSpec:
    """Default windowing (``[windows]``).

    A file gives ``length`` or ``length_s`` (and ``stride`` or ``stride_s``); once read,
    ``length`` and ``stride`` are in samples at the (resampled) rate, and ``length_s`` and
    ``stride_s`` are None.
    """

    length: int | None = None
    stride: int | None = None
    short: str = field(default="error", metadata=field_rules(choices=SHORT_RULES))
    resample_hz: float | None = None
    length_s: float | None = None
    stride_s: float | None = None


@dataclass(frozen=True)
class ImageSpec:
    """How ROIs become ``(1, size, size)`` images in [-1, 1] (``[image]``, image sources)."""

    size: int = 64
    window: tuple[float, ...] | None = None  # [low, high], files only


_SIGNAL_ONLY = _for_kinds(*SIGNAL_KINDS, key="source.kind")


@dataclass(frozen=True)
class DatasetSpec:
    """A validated dataset description: the spec file's sections, read by their type hints
    (:func:`imusynth.config.from_dict`), then checked as a whole.

    Examples
    --------
    >>> spec = load_spec("watch.toml")
    >>> spec.signal.channels
    ('ax', 'ay', 'az', 'wx', 'wy', 'wz')
    """

    name: str
    source: SourceSpec
    signal: SignalSpec
    classes: tuple[str, ...] = field(metadata=field_rules(toml="labels.classes"))
    windows: WindowSpec | None = field(  # None for image sources
        default=None, metadata=_for_kinds(*SIGNAL_KINDS, key="source.kind", required=True)
    )
    columns: ColumnSpec = field(default_factory=ColumnSpec, metadata=_SIGNAL_ONLY)
    description: str = ""
    path: Path | None = field(default=None, metadata=field_rules(toml=None))  # the spec file
    image: ImageSpec | None = field(  # image sources only
        default=None, metadata=_for_kinds(*IMAGE_KINDS, key="source.kind")
    )

    @property
    def is_image(self) -> bool:
        """True for ROI sources (phantoms, image folders, manifests)."""
        return self.source.kind in IMAGE_KINDS

    @property
    def rate_hz(self) -> float:
        """The rate windows are cut at: the resampling target if any, else the native rate."""
        if self.windows is None:
            return self.signal.sampling_rate_hz
        return self.windows.resample_hz or self.signal.sampling_rate_hz


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset spec from a TOML file (a bundled one by its bare name:
    :func:`imusynth.config.find_config_file`).

    Raises
    ------
    SpecError
        If the file cannot be read or parsed, or any key is unknown, missing or mistyped.

    Examples
    --------
    >>> load_spec("watch.toml").classes  # bundled with imusynth, found by name
    ('PEN', 'ABD', 'FEL', 'IR', 'ER', 'TRAP', 'ROW')
    """
    path = find_config_file(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("spec file not found", path=path, field="spec") from None
    except IsADirectoryError:
        raise SpecError("is a folder, not a TOML spec", path=path, field="spec") from None
    except OSError as exc:
        raise SpecError(f"cannot read spec ({exc.strerror})", path=path, field="spec") from None
    kind = _binary_kind(data)
    if kind is not None:
        raise SpecError(
            f"not a TOML spec: it looks like {kind}; give a dataset spec (.toml), e.g. "
            'one with [source] kind = "hdf5" and path = this file',
            path=path,
            field="spec",
        )
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not a TOML spec: not UTF-8 text (byte {exc.start})", path=path, field="spec"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML ({exc})", path=path, field="spec") from None
    return parse_spec(raw, path=path)


# File signatures of what users hand in by mistake where a spec is expected.
_MAGIC = (
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a windows file?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"PK\x03\x04", "a zip archive (.npz?)"),
    (b"PAR1", "a Parquet file"),
    (b"\x89PNG", "a PNG image"),
    (b"\x80", "a Python pickle (e.g. a checkpoint)"),
)


def _binary_kind(data: bytes) -> str | None:
    # HDF5 may start at offset 512 (user block); a DICOM file has its tag at 128.
    for magic, kind in _MAGIC:
        if data.startswith(magic) or (magic.startswith(b"\x89HDF") and data[512:520] == magic):
            return kind
    if data[128:132] == b"DICM":
        return "a DICOM image"
    if b"\x00" in data[:4096]:
        return "a binary file"
    return None


def parse_spec(raw: dict[str, Any], *, path: str | Path | None = None) -> DatasetSpec:
    """Validate an already-parsed TOML mapping; ``path`` anchors relative source paths."""
    where = Path(path) if path is not None else None

    def err(msg: str, key: str | None = None) -> SpecError:
        return SpecError(msg, path=where, field=key)

    try:
        spec = from_dict(DatasetSpec, raw)
    except ConfigError as exc:
        raise err(exc.message, exc.field) from None
    src, sig = spec.source, spec.signal
    if src.path is not None and not src.path.is_absolute() and where is not None:
        src = replace(src, path=where.parent / src.path)

    if not sig.channels:
        raise err("must list at least one channel", "signal.channels")
    if len(set(sig.channels)) != len(sig.channels):
        raise err("channel names must be unique", "signal.channels")
    if len(sig.units) != len(sig.channels):
        raise err(f"has {len(sig.units)} entries for {len(sig.channels)} channels", "signal.units")
    if len(spec.classes) < 1 or len(set(spec.classes)) != len(spec.classes):
        raise err("must list unique class names", "labels.classes")

    if spec.is_image:
        if sig.sampling_rate_hz not in (None, 0):
            raise err("must be 0 (or left out) for an image source", "signal.sampling_rate_hz")
        if len(sig.channels) != 1:
            got = len(sig.channels)
            raise err(f"an image source has one channel, got {got}", "signal.channels")
        return replace(
            spec,
            source=_image_source(src, spec.classes, err),
            signal=_signal(sig, 0.0, err),
            path=where,
            image=_image_section(src.kind, spec.image or ImageSpec(), err),
        )
    if sig.sampling_rate_hz is None:
        raise err("missing key", "signal.sampling_rate_hz")
    rate = sig.sampling_rate_hz
    if not (math.isfinite(rate) and rate > 0):
        raise err("must be a positive number", "signal.sampling_rate_hz")
    return replace(
        spec,
        source=src,
        signal=_signal(sig, rate, err),
        windows=_windows(spec.windows, rate, err),
        path=where,
    )


def _signal(sig: SignalSpec, rate: float, err) -> SignalSpec:
    """Units and placement in their one spelling; the rate as resolved."""
    units = []
    for unit in sig.units:
        try:
            units.append(canonical_unit(unit))
        except ValueError:
            raise err(
                f"unknown unit {unit!r} (accepted: {', '.join(KNOWN_UNITS)})", "signal.units"
            ) from None
    try:
        placement = placement_name(sig.placement)
    except ValueError as exc:
        raise err(str(exc), "signal.placement") from None
    return replace(sig, units=tuple(units), sampling_rate_hz=rate, placement=placement)


def _windows(win: WindowSpec, rate: float, err) -> WindowSpec:
    resample = win.resample_hz
    if resample is not None and not (math.isfinite(resample) and resample > 0):
        raise err("must be a positive number", "windows.resample_hz")
    win_rate = resample if resample is not None else rate
    length = _samples(win.length, win.length_s, "length", win_rate, err)
    stride = _samples(win.stride, win.stride_s, "stride", win_rate, err)
    return replace(win, length=length, stride=stride, length_s=None, stride_s=None)


def _image_source(src: SourceSpec, classes: tuple[str, ...], err) -> SourceSpec:
    counts = src.counts
    if counts is not None and (len(counts) != len(classes) or min(counts) < 0 or sum(counts) == 0):
        raise err(
            f"need {len(classes)} non-negative counts (one per class), not all zero",
            "source.counts",
        )
    if src.kind == "phantoms":
        from imusynth.data.phantoms import PHANTOM_CLASSES

        if classes != PHANTOM_CLASSES:
            raise err(
                f"the phantoms have classes {list(PHANTOM_CLASSES)}, in this order",
                "labels.classes",
            )
    patients = src.patients
    if patients is not None and not 1 <= patients <= sum(counts or (patients,)):
        raise err("must be at least 1 and at most the number of lesions", "source.patients")
    if src.seed < 0:
        raise err("must be >= 0", "source.seed")
    pattern = src.patient_pattern
    if pattern is not None:
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise err(f"not a valid regular expression ({exc})", "source.patient_pattern") from None
        if groups < 1:
            raise err("needs a group for the patient id", "source.patient_pattern")
    return src


def _image_section(kind: str, img: ImageSpec, err) -> ImageSpec:
    if img.size < 16:
        raise err(f"must be at least 16 pixels, got {img.size}", "image.size")
    window = img.window
    if window is not None:
        if kind == "phantoms":
            raise err("not used with kind 'phantoms' (already windowed)", "image.window")
        if len(window) != 2 or not all(math.isfinite(v) for v in window) or window[0] >= window[1]:
            raise err("expected [low, high] with low < high", "image.window")
    return img


def _samples(in_samples: int | None, in_seconds: float | None, key: str, rate: float, err) -> int:
    if (in_samples is None) == (in_seconds is None):
        raise err(f"give exactly one of {key} (samples) or {key}_s (seconds)", f"windows.{key}")
    n = in_samples if in_samples is not None else round(in_seconds * rate)
    if n < 1:
        raise err("must be at least one sample", f"windows.{key}")
    return int(n)

"""Dataset specs: TOML files read with :mod:`tomllib` into frozen, validated dataclasses.

A spec describes where recordings come from and how to read them; it holds no data. Every
key is checked: an unknown key, a missing required key, or a value of the wrong type raises
:class:`~imusynth.errors.SpecError` naming the file and the dotted key.

Layout (``data_specs/watch.toml`` is a complete example)::

    name = "watch"
    description = "..."

    [source]
    kind = "seglearn-watch"     # or "csv", "parquet", "hdf5"
    path = "my_data.csv"        # csv/parquet/hdf5 only; relative to the spec file

    [signal]
    sampling_rate_hz = 50.0
    channels = ["ax", "ay", "az", "wx", "wy", "wz"]
    units = ["g", "g", "g", "rad/s", "rad/s", "rad/s"]
    placement = "wrist"

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

Image specs (``data_specs/liver_phantoms.toml``, ``data_specs/example_rois.toml``) describe
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imusynth.errors import SpecError

__all__ = [
    "IMAGE_KINDS",
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
SHORT_RULES = ("error", "drop", "pad")
SIDES = ("left", "right", "")


@dataclass(frozen=True)
class SourceSpec:
    """Where the data come from; the image-only keys are ``None`` for signal sources."""

    kind: str
    path: Path | None = None
    seed: int = 0  # phantoms: seeds the phantom generator
    counts: tuple[int, ...] | None = None  # phantoms: lesions per class (None: the paper's)
    patients: int | None = None  # phantoms: number of patients (None: the generator's)
    patient_pattern: str | None = None  # image-folder: regex for the patient id in file names


@dataclass(frozen=True)
class SignalSpec:
    sampling_rate_hz: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    placement: str = ""


@dataclass(frozen=True)
class ColumnSpec:
    recording: str = "recording"
    subject: str = "subject"
    label: str = "label"
    time: str | None = None
    side: str | None = None


@dataclass(frozen=True)
class WindowSpec:
    """Default windowing; lengths are resolved to samples at the (resampled) rate."""

    length: int
    stride: int
    short: str = "error"
    resample_hz: float | None = None


@dataclass(frozen=True)
class ImageSpec:
    """How ROIs become ``(1, size, size)`` images in [-1, 1] (image sources only)."""

    size: int = 64
    window: tuple[float, float] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A validated dataset description.

    Examples
    --------
    >>> spec = load_spec("data_specs/watch.toml")  # doctest: +SKIP
    >>> spec.signal.channels  # doctest: +SKIP
    ('ax', 'ay', 'az', 'wx', 'wy', 'wz')
    """

    name: str
    source: SourceSpec
    signal: SignalSpec
    classes: tuple[str, ...]
    windows: WindowSpec | None  # None for image sources
    columns: ColumnSpec = field(default_factory=ColumnSpec)
    description: str = ""
    path: Path | None = None
    image: ImageSpec | None = None  # image sources only

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


# Schema: key -> (type or tuple of types, required). "str_list" means a list of strings.
_SCHEMA: dict[str, dict[str, tuple[Any, bool]]] = {
    "": {"name": (str, True), "description": (str, False)},
    "source": {
        "kind": (str, True),
        "path": (str, False),
        "seed": (int, False),
        "counts": ("int_list", False),
        "patients": (int, False),
        "patient_pattern": (str, False),
    },
    "signal": {
        "sampling_rate_hz": ((int, float), False),  # required for signal sources
        "channels": ("str_list", True),
        "units": ("str_list", True),
        "placement": (str, False),
    },
    "labels": {"classes": ("str_list", True)},
    "columns": {
        "recording": (str, False),
        "subject": (str, False),
        "label": (str, False),
        "time": (str, False),
        "side": (str, False),
    },
    "windows": {
        "length": (int, False),
        "length_s": ((int, float), False),
        "stride": (int, False),
        "stride_s": ((int, float), False),
        "short": (str, False),
        "resample_hz": ((int, float), False),
    },
    "image": {"size": (int, False), "window": ("number_list", False)},
}
_REQUIRED_SECTIONS = ("source", "signal", "labels")
# Which source kinds each optional source key is for (path: every kind but these two).
_SOURCE_KEY_KINDS = {
    "path": tuple(k for k in SOURCE_KINDS if k not in ("seglearn-watch", "phantoms")),
    "seed": ("phantoms",),
    "counts": ("phantoms",),
    "patients": ("phantoms",),
    "patient_pattern": ("image-folder",),
}


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset spec from a TOML file.

    Raises
    ------
    SpecError
        If the file cannot be read or parsed, or any key is unknown, missing or mistyped.
    """
    path = Path(path)
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

    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in _SCHEMA or key == "":
                raise err("unknown section", key)
        elif key not in _SCHEMA[""]:
            raise err("unknown key", key)
    for section in _REQUIRED_SECTIONS:
        if section not in raw:
            raise err("missing section", section)

    def section(name: str) -> dict[str, Any]:
        table = raw if name == "" else raw.get(name, {})
        out: dict[str, Any] = {}
        for key, value in table.items():
            if name == "" and isinstance(value, dict):
                continue
            dotted = f"{name}.{key}" if name else key
            if key not in _SCHEMA[name]:
                raise err("unknown key", dotted)
            out[key] = _check_type(value, _SCHEMA[name][key][0], dotted, err)
        for key, (_, required) in _SCHEMA[name].items():
            if required and key not in out:
                raise err("missing key", f"{name}.{key}" if name else key)
        return out

    top, src, sig, lab, col, win, img = (
        section(s) for s in ("", "source", "signal", "labels", "columns", "windows", "image")
    )

    kind = src["kind"]
    if kind not in SOURCE_KINDS:
        raise err(f"must be one of {', '.join(SOURCE_KINDS)}; got {kind!r}", "source.kind")
    for key, kinds in _SOURCE_KEY_KINDS.items():
        if key in src and kind not in kinds:
            raise err(f"not used with kind {kind!r}", f"source.{key}")
    src_path = None
    if kind in _SOURCE_KEY_KINDS["path"]:
        if "path" not in src:
            raise err(f"missing key (required for kind {kind!r})", "source.path")
        src_path = Path(src["path"])
        if not src_path.is_absolute() and where is not None:
            src_path = where.parent / src_path

    image = kind in IMAGE_KINDS
    channels, units = tuple(sig["channels"]), tuple(sig["units"])
    if not channels:
        raise err("must list at least one channel", "signal.channels")
    if len(set(channels)) != len(channels):
        raise err("channel names must be unique", "signal.channels")
    if len(units) != len(channels):
        raise err(f"has {len(units)} entries for {len(channels)} channels", "signal.units")

    classes = tuple(lab["classes"])
    if len(classes) < 1 or len(set(classes)) != len(classes):
        raise err("must list unique class names", "labels.classes")

    if image:
        rate = float(sig.get("sampling_rate_hz", 0.0))
        if rate != 0:
            raise err("must be 0 (or left out) for an image source", "signal.sampling_rate_hz")
        _check_image_layout(raw, channels, err)
        return DatasetSpec(
            name=top["name"],
            description=top.get("description", ""),
            source=_image_source(kind, src, src_path, classes, err),
            signal=SignalSpec(rate, channels, units, sig.get("placement", "")),
            classes=classes,
            windows=None,
            path=where,
            image=_image_section(kind, img, err),
        )
    if "image" in raw:
        raise err(f"not used with kind {kind!r}", "image")
    if "windows" not in raw:
        raise err("missing section", "windows")
    if "sampling_rate_hz" not in sig:
        raise err("missing key", "signal.sampling_rate_hz")
    rate = float(sig["sampling_rate_hz"])
    if not (math.isfinite(rate) and rate > 0):
        raise err("must be a positive number", "signal.sampling_rate_hz")

    resample = win.get("resample_hz")
    if resample is not None and not (math.isfinite(resample) and resample > 0):
        raise err("must be a positive number", "windows.resample_hz")
    win_rate = float(resample) if resample is not None else rate
    length = _samples(win, "length", win_rate, err)
    stride = _samples(win, "stride", win_rate, err)
    short = win.get("short", "error")
    if short not in SHORT_RULES:
        raise err(f"must be one of {', '.join(SHORT_RULES)}; got {short!r}", "windows.short")

    return DatasetSpec(
        name=top["name"],
        description=top.get("description", ""),
        source=SourceSpec(kind=kind, path=src_path),
        signal=SignalSpec(rate, channels, units, sig.get("placement", "")),
        classes=classes,
        columns=ColumnSpec(**col),
        windows=WindowSpec(length, stride, short, None if resample is None else float(resample)),
        path=where,
    )


def _check_image_layout(raw: dict[str, Any], channels: tuple[str, ...], err) -> None:
    for name in ("windows", "columns"):
        if name in raw:
            raise err("not used with an image source", name)
    if len(channels) != 1:
        raise err(f"an image source has one channel, got {len(channels)}", "signal.channels")


def _image_source(kind: str, src: dict[str, Any], path: Path | None, classes, err) -> SourceSpec:
    counts = src.get("counts")
    if counts is not None:
        if len(counts) != len(classes) or min(counts) < 0 or sum(counts) == 0:
            raise err(
                f"need {len(classes)} non-negative counts (one per class), not all zero",
                "source.counts",
            )
        counts = tuple(counts)
    if kind == "phantoms":
        from imusynth.data.phantoms import PHANTOM_CLASSES

        if classes != PHANTOM_CLASSES:
            raise err(
                f"the phantoms have classes {list(PHANTOM_CLASSES)}, in this order",
                "labels.classes",
            )
    patients = src.get("patients")
    if patients is not None and not 1 <= patients <= sum(counts or (patients,)):
        raise err("must be at least 1 and at most the number of lesions", "source.patients")
    seed = src.get("seed", 0)
    if seed < 0:
        raise err("must be >= 0", "source.seed")
    pattern = src.get("patient_pattern")
    if pattern is not None:
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise err(f"not a valid regular expression ({exc})", "source.patient_pattern") from None
        if groups < 1:
            raise err("needs a group for the patient id", "source.patient_pattern")
    return SourceSpec(kind, path, seed, counts, patients, pattern)


def _image_section(kind: str, img: dict[str, Any], err) -> ImageSpec:
    size = img.get("size", ImageSpec.size)
    if size < 16:
        raise err(f"must be at least 16 pixels, got {size}", "image.size")
    window = img.get("window")
    if window is not None:
        if kind == "phantoms":
            raise err("not used with kind 'phantoms' (already windowed)", "image.window")
        if len(window) != 2 or not all(math.isfinite(v) for v in window) or window[0] >= window[1]:
            raise err("expected [low, high] with low < high", "image.window")
        window = (float(window[0]), float(window[1]))
    return ImageSpec(size=size, window=window)


def _check_type(value: Any, kind: Any, dotted: str, err) -> Any:
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise err("expected a list of strings", dotted)
        return value
    if kind in ("int_list", "number_list"):
        allowed = int if kind == "int_list" else (int, float)
        if not isinstance(value, list) or not all(
            isinstance(v, allowed) and not isinstance(v, bool) for v in value
        ):
            raise err(
                f"expected a list of {'integers' if kind == 'int_list' else 'numbers'}", dotted
            )
        return value
    # bool is an int in Python; a spec that says `length = true` is still wrong.
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
        raise err(f"expected {names}, got {type(value).__name__}", dotted)
    return value


def _samples(win: dict[str, Any], key: str, rate: float, err) -> int:
    in_samples, in_seconds = win.get(key), win.get(f"{key}_s")
    if (in_samples is None) == (in_seconds is None):
        raise err(f"give exactly one of {key} (samples) or {key}_s (seconds)", f"windows.{key}")
    n = in_samples if in_samples is not None else round(in_seconds * rate)
    if n < 1:
        raise err("must be at least one sample", f"windows.{key}")
    return int(n)

"""Image ROI loaders: a folder per class, or a CSV manifest, of PNG / NPY / DICOM files.

Every ROI becomes one ``(1, size, size)`` float32 image in ``[-1, 1]`` (the range of the
DCGAN's tanh output), with an integer class code and a patient id, so that cross-validation
can split by patient as Frid-Adar et al. 2018 did. Resizing uses :func:`scipy.ndimage.zoom`
(bilinear, pixel centres aligned), after a Gaussian anti-alias filter when shrinking.

Intensities: with ``window=(lo, hi)`` values are clipped to the window and mapped linearly
(use it for NPY files in Hounsfield units, e.g. a liver window ``(-50, 200)``). Without a
window, 8-bit images map their full range 0..255, and every other image (16-bit PNG, NPY)
its own minimum..maximum; a constant image becomes 0.

DICOM (``.dcm``, read with the optional pydicom: ``pip install imusynth[dicom]``): the stored
pixel values become Hounsfield units through the file's ``RescaleSlope`` and
``RescaleIntercept`` (1 and 0 when absent), and are then scaled like an NPY file in HU: give
the spec a window, e.g. the liver window ``(-50, 200)`` that the phantoms use, as Frid-Adar
et al. 2018 fed the CNN windowed ROIs; without one each ROI maps its own minimum..maximum,
which loses the absolute densities that tell lesions apart. The file's display window tags
(``WindowCenter`` / ``WindowWidth``) are ignored, so that every ROI gets the same window.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from imusynth.errors import ConfigError, DataError

__all__ = ["IMAGE_SUFFIXES", "load_image_folder", "load_image_manifest", "read_roi"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".npy", ".dcm")
DEFAULT_PATIENT_PATTERN = r"^(?P<patient>[A-Za-z0-9]+)[_\-]"
MANIFEST_COLUMNS = ("path", "label", "patient")


def load_image_folder(
    root: str | Path,
    *,
    classes: tuple[str, ...] | None = None,
    patient_pattern: str = DEFAULT_PATIENT_PATTERN,
    size: int = 64,
    window: tuple[float, float] | None = None,
) -> dict[str, object]:
    """Load ROIs from ``root/<class>/<file>.png|.npy|.dcm``, the patient id parsed from file
    names.

    Parameters
    ----------
    root : str or Path
        A folder with one sub-folder per class.
    classes : tuple of str, optional
        Class names, in code order; each must be a sub-folder. Default: every sub-folder,
        sorted by name.
    patient_pattern : str
        Regular expression searched in each file name (without suffix); the patient id is
        its group ``patient``, or else its first group that matched. The default takes the leading
        letters and digits up to the first ``_`` or ``-``: ``P012_lesion3.png`` -> ``P012``.
    size : int
        Side of the output images in pixels.
    window : (float, float), optional
        Intensity window mapped to [-1, 1]; see the module docstring.

    Returns
    -------
    dict
        ``X`` (N, 1, size, size) float32 in [-1, 1], ``y`` (N,) int64, ``groups`` (N,) str
        patient ids, ``classes`` tuple of str, ``paths`` (N,) str.

    Raises
    ------
    DataError
        Missing folder, a class folder without images, an unreadable or malformed file, a
        file name without a patient id; the error names the file and the field.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for cls in ("cyst", "hemangioma"):
    ...     (root / cls).mkdir()
    ...     np.save(root / cls / "P001_a.npy", np.eye(32))
    >>> d = load_image_folder(root)
    >>> d["X"].shape, d["y"].tolist(), d["groups"].tolist(), d["classes"]
    ((2, 1, 64, 64), [0, 1], ['P001', 'P001'], ('cyst', 'hemangioma'))
    """
    root = Path(root)
    pattern = _compile(patient_pattern)
    _check_size(size)
    if not root.is_dir():
        raise DataError("image folder not found", path=root, field="root")
    if classes is None:
        classes = tuple(
            sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        )
        if not classes:
            raise DataError("no class sub-folders", path=root, field="classes")
    classes = tuple(classes)
    files: list[Path] = []
    labels: list[int] = []
    for code, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"class folder {name!r} not found", path=folder, field="classes")
        found = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not found:
            raise DataError(
                f"no {'/'.join(IMAGE_SUFFIXES)} files for class {name!r}",
                path=folder,
                field="files",
            )
        files.extend(found)
        labels.extend([code] * len(found))
    groups = [_patient_from_name(path, pattern) for path in files]
    return _assemble(files, labels, groups, classes, size, window)


def load_image_manifest(
    manifest: str | Path,
    *,
    classes: tuple[str, ...] | None = None,
    size: int = 64,
    window: tuple[float, float] | None = None,
) -> dict[str, object]:
    """Load ROIs listed in a CSV manifest with columns ``path``, ``label``, ``patient``.

    Parameters
    ----------
    manifest : str or Path
        The CSV file; relative paths in it are relative to its folder.
    classes : tuple of str, optional
        Class names in code order; a label outside them is an error. Default: the labels
        found, sorted.
    size, window
        As in :func:`load_image_folder`.

    Returns
    -------
    dict
        As :func:`load_image_folder`.

    Raises
    ------
    DataError
        Missing or unreadable manifest, a missing column, an empty patient id or label, an
        unknown class, a missing or unreadable image.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> np.save(root / "a.npy", np.eye(16))
    >>> _ = (root / "m.csv").write_text("path,label,patient\\na.npy,cyst,P7\\n")
    >>> d = load_image_manifest(root / "m.csv")
    >>> d["X"].shape, d["groups"].tolist(), d["classes"]
    ((1, 1, 64, 64), ['P7'], ('cyst',))
    """
    manifest = Path(manifest)
    _check_size(size)
    if not manifest.is_file():
        raise DataError("manifest not found", path=manifest, field="manifest")
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV ({exc})", path=manifest, field="manifest") from None
    table.columns = [str(c).strip() for c in table.columns]
    for column in MANIFEST_COLUMNS:
        if column not in table.columns:
            raise DataError(
                f"missing column (need {', '.join(MANIFEST_COLUMNS)})", path=manifest, field=column
            )
    if len(table) == 0:
        raise DataError("the manifest lists no images", path=manifest, field="path")
    for column in MANIFEST_COLUMNS:
        values = table[column].str.strip()
        empty = np.flatnonzero((values == "").to_numpy())
        if len(empty):
            raise DataError(
                f"empty value in row {empty[0] + 2} (line of the CSV)", path=manifest, field=column
            )
        table[column] = values
    if classes is None:
        classes = tuple(sorted(set(table["label"])))
    classes = tuple(classes)
    code_of = {name: code for code, name in enumerate(classes)}
    unknown = [i for i, label in enumerate(table["label"]) if label not in code_of]
    if unknown:
        i = unknown[0]
        raise DataError(
            f"unknown class {table['label'].iloc[i]!r} in row {i + 2}; expected one of "
            f"{', '.join(classes)}",
            path=manifest,
            field="label",
        )
    base = manifest.parent
    files = [(p if p.is_absolute() else base / p) for p in map(Path, table["path"])]
    labels = [code_of[label] for label in table["label"]]
    return _assemble(files, labels, list(table["patient"]), classes, size, window)


def read_roi(path: str | Path) -> np.ndarray:
    """Read one ROI file as a 2-D array in its stored dtype (RGB is turned to grey); a DICOM
    file as float64 Hounsfield units (see the module docstring).

    Raises
    ------
    DataError
        Missing or unreadable file, unsupported suffix, not a single 2-D image, non-finite
        values, a DICOM file without pydicom installed.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "roi.npy"
    >>> np.save(path, np.ones((1, 8, 8), dtype=np.int16))
    >>> read_roi(path).shape
    (8, 8)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path=path, field="path")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"unreadable NPY file ({exc})", path=path, field="file") from None
    elif suffix == ".png":
        arr = _read_png(path)
    elif suffix == ".dcm":
        arr = _read_dicom(path)
    else:
        raise DataError(
            f"unsupported file type {suffix!r} (expected {', '.join(IMAGE_SUFFIXES)})",
            path=path,
            field="path",
        )
    if arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:-1])  # (H, W)
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise DataError(f"expected one 2-D image, got shape {arr.shape}", path=path, field="shape")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if not np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"expected numbers, got dtype {arr.dtype}", path=path, field="dtype")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise DataError("the image contains NaN or Inf", path=path, field="values")
    return arr


def _read_png(path: Path) -> np.ndarray:
    # Pillow is a hard dependency of matplotlib, so it is always present with imusynth.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "I;16", "I;16B", "I;16L", "I", "F"):
                img = img.convert("L")
            return np.asarray(img).copy()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"unreadable PNG file ({exc})", path=path, field="file") from None


def _read_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
    except ImportError:
        raise DataError(
            "reading DICOM needs pydicom, which is not installed (pip install imusynth[dicom])",
            path=path,
            field="file",
        ) from None
    ds = _dicom_step(lambda: pydicom.dcmread(path), "unreadable DICOM file", path, "file")
    if "PixelData" not in ds:
        raise DataError("the DICOM file holds no pixel data", path=path, field="PixelData")
    pixels = _dicom_step(
        lambda: np.asarray(ds.pixel_array), "undecodable DICOM pixel data", path, "PixelData"
    )
    rescale = []
    for key, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        try:
            value = float(ds.get(key, default))
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or (key == "RescaleSlope" and value == 0):
            raise DataError(f"bad value {ds.get(key)!r}", path=path, field=key)
        rescale.append(value)
    # The CT modality LUT: stored value * slope + intercept = Hounsfield units.
    return pixels.astype(np.float64) * rescale[0] + rescale[1]


def _dicom_step(step: Callable[[], Any], what: str, path: Path, field: str) -> Any:
    """``step()``, with any error it raises turned into one :class:`DataError` line."""
    # pydicom reports a malformed file with many exception types (InvalidDicomError, a
    # ValueError for short pixel data, a RuntimeError for a missing decoder, ...).
    try:
        return step()
    except Exception as exc:
        raise DataError(f"{what} ({type(exc).__name__}: {exc})", path=path, field=field) from None


def _assemble(
    files: list[Path],
    labels: list[int],
    groups: list[str],
    classes: tuple[str, ...],
    size: int,
    window: tuple[float, float] | None,
) -> dict[str, object]:
    if window is not None and not (len(window) == 2 and window[0] < window[1]):
        raise ConfigError(f"need (low, high) with low < high, got {window}", field="window")
    if window is None and any(p.suffix.lower() == ".dcm" for p in files):
        log.warning(
            "DICOM ROIs without an intensity window are scaled each to its own min..max; set "
            "image.window in Hounsfield units (e.g. [-50, 200], a liver window)"
        )
    X = np.empty((len(files), 1, size, size), dtype=np.float32)
    for i, path in enumerate(files):
        raw = read_roi(path)
        X[i, 0] = _resize(_scale(raw, window), size)
    log.info("loaded %d ROIs of %d classes", len(files), len(classes))
    return {
        "X": X,
        "y": np.asarray(labels, dtype=np.int64),
        "groups": np.asarray(groups, dtype=str),
        "classes": classes,
        "paths": np.asarray([str(p) for p in files], dtype=str),
    }


def _scale(arr: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """Map intensities to [-1, 1] (see the module docstring)."""
    a = arr.astype(np.float64)
    if window is not None:
        lo, hi = float(window[0]), float(window[1])
        a = np.clip(a, lo, hi)
    elif arr.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = float(a.min()), float(a.max())
        if hi == lo:
            return np.zeros_like(a)
    return 2.0 * (a - lo) / (hi - lo) - 1.0


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    factors = (size / img.shape[0], size / img.shape[1])
    # Shrinking without a low-pass first would alias the CT noise into coarse blotches.
    sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
    if max(sigma) > 0:
        img = ndimage.gaussian_filter(img, sigma, mode="nearest")
    out = ndimage.zoom(img, factors, order=1, mode="nearest", grid_mode=True)
    return np.clip(out, -1.0, 1.0)


def _patient_from_name(path: Path, pattern: re.Pattern[str]) -> str:
    match = pattern.search(path.stem)
    if match is None:
        raise DataError(
            f"no patient id in the file name (pattern {pattern.pattern!r})",
            path=path,
            field="patient",
        )
    if "patient" in match.groupdict():
        value = match.group("patient")
    else:
        value = next((g for g in match.groups() if g), None)
    if not value:
        raise DataError(
            f"empty patient id in the file name (pattern {pattern.pattern!r})",
            path=path,
            field="patient",
        )
    return value


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"not a valid regular expression ({exc})", field="patient_pattern"
        ) from None
    if compiled.groups < 1:
        raise ConfigError("the pattern needs a group for the patient id", field="patient_pattern")
    return compiled


def _check_size(size: int) -> None:
    if int(size) != size or size < 4:
        raise ConfigError(f"must be an integer >= 4, got {size}", field="size")

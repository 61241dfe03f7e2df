"""DICOM ROIs (optional pydicom): Hounsfield units, folders, manifests, bad files.

The DICOM files are written on the fly with pydicom; no binary file is committed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from imusynth.data.images import load_image_folder, load_image_manifest, read_roi
from imusynth.errors import DataError

LIVER = (-50.0, 200.0)


def _dcm(path: Path, pixels: np.ndarray, slope: float | None = 1.0, intercept: float | None = 0.0):
    """Write a minimal CT image; ``slope`` / ``intercept`` None leaves the tag out."""
    pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(
        str(path),
        {},
        file_meta=meta,
        preamble=b"\0" * 128,
        is_implicit_VR=False,
        is_little_endian=True,
    )
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "CT", path.stem.split("_")[0]
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    return path


def _stored(hu: np.ndarray) -> np.ndarray:
    """Stored values of HU under slope 1, intercept -1024 (the usual CT encoding)."""
    return (hu + 1024).astype(np.uint16)


def _hu(seed: int, shape=(24, 24)) -> np.ndarray:
    return np.random.default_rng(seed).integers(-120, 260, size=shape).astype(np.float64)


def test_stored_values_become_hounsfield_units(tmp_path):
    raw = np.arange(64, dtype=np.int16).reshape(8, 8) - 20
    hu = read_roi(_dcm(tmp_path / "a.dcm", raw, slope=2.0, intercept=-1024.0))
    assert hu.dtype == np.float64
    np.testing.assert_array_equal(hu, raw * 2.0 - 1024.0)
    # no rescale tags: the stored values are the HU
    plain = read_roi(_dcm(tmp_path / "b.dcm", (raw + 25).astype(np.uint16), None, None))
    np.testing.assert_array_equal(plain, raw + 25.0)


def test_dicom_is_windowed_like_npy_in_hounsfield_units(tmp_path):
    hu = _hu(0)
    hu[0, 0], hu[0, 1] = -50.0, 200.0
    _dcm(tmp_path / "dcm" / "cyst" / "P001_a.dcm", _stored(hu), intercept=-1024.0)
    (tmp_path / "npy" / "cyst").mkdir(parents=True)
    np.save(tmp_path / "npy" / "cyst" / "P001_a.npy", hu)
    a = load_image_folder(tmp_path / "dcm", size=24, window=LIVER)
    b = load_image_folder(tmp_path / "npy", size=24, window=LIVER)
    np.testing.assert_array_equal(a["X"], b["X"])
    img = a["X"][0, 0]
    assert img[0, 0] == -1.0 and img[0, 1] == 1.0  # window edges -> tanh range edges
    np.testing.assert_allclose(img, np.clip(2 * (hu + 50) / 250 - 1, -1, 1), atol=1e-6)


def test_folder_per_class_with_patient_ids_in_file_names(tmp_path, caplog):
    root = tmp_path / "rois"
    for cls, seed in (("cyst", 1), ("hemangioma", 2)):
        for patient in ("P001", "P002"):
            _dcm(root / cls / f"{patient}_lesion1.dcm", _stored(_hu(seed)), intercept=-1024.0)
    np.save(root / "cyst" / "P003_lesion1.npy", _hu(3))  # formats mix in one folder
    d = load_image_folder(root, window=LIVER)
    assert d["X"].shape == (5, 1, 64, 64) and d["X"].dtype == np.float32
    assert d["y"].tolist() == [0, 0, 0, 1, 1]
    assert d["groups"].tolist() == ["P001", "P002", "P003", "P001", "P002"]
    assert d["classes"] == ("cyst", "hemangioma")
    assert -1.0 <= d["X"].min() and d["X"].max() <= 1.0
    with caplog.at_level(logging.WARNING, logger="imusynth.data.images"):
        load_image_folder(root)
    assert "image.window" in caplog.text  # DICOM without a window: say how to set one


def test_manifest_points_at_dicom_files(tmp_path):
    _dcm(tmp_path / "scans" / "a.dcm", _stored(_hu(4)), intercept=-1024.0)
    _dcm(tmp_path / "scans" / "b.dcm", _stored(_hu(5)), intercept=-1024.0)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,patient\nscans/a.dcm,metastasis,P7\nscans/b.dcm,cyst,P8\n")
    d = load_image_manifest(manifest, size=32, window=LIVER)
    assert d["X"].shape == (2, 1, 32, 32)
    assert d["classes"] == ("cyst", "metastasis") and d["y"].tolist() == [1, 0]
    assert d["groups"].tolist() == ["P7", "P8"]


def test_image_spec_loads_dicom_rois(tmp_path):
    from imusynth.data import load_images

    for cls in ("cyst", "hemangioma"):
        _dcm(tmp_path / "rois" / cls / "P01_x.dcm", _stored(_hu(6)), intercept=-1024.0)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'name = "d"\n[source]\nkind = "image-folder"\npath = "rois"\n'
        '[signal]\nchannels = ["intensity"]\nunits = ["scaled"]\n'
        '[labels]\nclasses = ["cyst", "hemangioma"]\n[image]\nsize = 16\nwindow = [-50.0, 200.0]\n'
    )
    ims = load_images(spec)
    assert ims.X.shape == (2, 1, 16, 16) and ims.groups.tolist() == ["P01", "P01"]


def test_corrupt_dicom_names_the_file(tmp_path):
    pytest.importorskip("pydicom")
    bad = tmp_path / "r" / "cyst" / "P001_bad.dcm"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a dicom file at all" * 10)
    with pytest.raises(DataError) as err:
        load_image_folder(tmp_path / "r")
    assert err.value.path == str(bad) and str(bad) in str(err.value)
    assert err.value.field == "file" and "DICOM" in err.value.message
    # a valid header whose pixel data are cut short
    good = _dcm(tmp_path / "t.dcm", _stored(_hu(7)), intercept=-1024.0)
    cut = tmp_path / "m" / "P002_cut.dcm"
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[:-100])
    (tmp_path / "m" / "list.csv").write_text("path,label,patient\nP002_cut.dcm,cyst,P002\n")
    with pytest.raises(DataError) as err:
        load_image_manifest(tmp_path / "m" / "list.csv")
    assert err.value.path == str(cut) and err.value.field in ("file", "PixelData")


def test_without_pydicom_a_dicom_file_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "r" / "cyst" / "P001_a.dcm"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 132)
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom -> ImportError
    with pytest.raises(DataError) as err:
        load_image_folder(tmp_path / "r")
    assert "pip install imusynth[dicom]" in err.value.message
    assert err.value.path == str(path)

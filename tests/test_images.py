"""Image ROI loaders: class folders and CSV manifests of PNG / NPY files, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imusynth.data.images import load_image_folder, load_image_manifest, read_roi
from imusynth.errors import ConfigError, DataError


def _png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _npy(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "rois"
    ramp = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1))
    _png(root / "metastasis" / "P01_a.png", ramp)
    _png(root / "metastasis" / "P02-b.png", np.full((30, 50), 255, dtype=np.uint8))
    _npy(root / "cyst" / "P01_c.npy", np.linspace(-3.0, 5.0, 100 * 80).reshape(100, 80))
    _png(root / "cyst" / "P03_d.png", np.zeros((64, 64, 3), dtype=np.uint8))  # RGB
    (root / "cyst" / "notes.txt").write_text("ignored")
    return root


def test_folder_loads_png_and_npy(folder):
    d = load_image_folder(folder)
    assert d["classes"] == ("cyst", "metastasis")
    X, y = d["X"], d["y"]
    assert X.shape == (4, 1, 64, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 0, 1, 1]
    assert d["groups"].tolist() == ["P01", "P03", "P01", "P02"]
    assert [Path(p).name for p in d["paths"]] == [
        "P01_c.npy",
        "P03_d.png",
        "P01_a.png",
        "P02-b.png",
    ]
    assert X.min() >= -1 and X.max() <= 1
    npy, rgb, ramp, white = X[:, 0]
    assert npy.min() == pytest.approx(-1, abs=0.02) and npy.max() == pytest.approx(1, abs=0.02)
    assert (npy[1:] > npy[:-1]).all()  # a ramp down the rows stays a ramp after resizing
    np.testing.assert_array_equal(rgb, -1.0)  # black 8-bit -> -1
    np.testing.assert_array_equal(white, 1.0)  # white 8-bit -> 1
    assert ramp[:, 0].max() < -0.9 and ramp[:, -1].min() > 0.9


def test_folder_class_order_and_pattern(folder):
    d = load_image_folder(
        folder, classes=("metastasis", "cyst"), patient_pattern=r"_(\w)$|-(\w)$", size=32
    )
    assert d["X"].shape == (4, 1, 32, 32)
    assert d["y"].tolist() == [0, 0, 1, 1]
    assert d["groups"][0] == "a"


def test_window_and_16_bit_png(tmp_path):
    root = tmp_path / "r"
    hu = np.repeat([[-200.0, 75.0, 75.0, 300.0]], 4, axis=0)
    _npy(root / "cyst" / "P1_x.npy", hu)
    wide = np.zeros((8, 8), dtype=np.uint16)
    wide[:, 4:] = 4095  # 12-bit CT stored in a 16-bit PNG
    _png(root / "hemangioma" / "P2_x.png", wide)
    d = load_image_folder(root, window=(-50.0, 200.0), size=4)
    np.testing.assert_allclose(d["X"][0, 0], np.repeat([[-1.0, 0.0, 0.0, 1.0]], 4, 0), atol=1e-6)
    assert read_roi(root / "hemangioma" / "P2_x.png").dtype == np.uint16
    d = load_image_folder(root, size=8)
    np.testing.assert_allclose(d["X"][1, 0, :, 0], -1.0)  # min-max for 16-bit
    np.testing.assert_allclose(d["X"][1, 0, :, -1], 1.0)


def test_manifest(tmp_path, folder):
    absolute = folder / "cyst" / "P01_c.npy"
    manifest = folder / "manifest.csv"
    manifest.write_text(
        "path,label,patient\n"
        "metastasis/P01_a.png,metastasis, A7 \n"
        f"{absolute},cyst,B2\n"
        "cyst/P03_d.png,cyst,B2\n"
    )
    d = load_image_manifest(manifest)
    assert d["classes"] == ("cyst", "metastasis")
    assert d["y"].tolist() == [1, 0, 0]
    assert d["groups"].tolist() == ["A7", "B2", "B2"]
    assert d["X"].shape == (3, 1, 64, 64)
    d = load_image_manifest(manifest, classes=("metastasis", "cyst", "hemangioma"), size=16)
    assert d["y"].tolist() == [0, 1, 1] and d["X"].shape == (3, 1, 16, 16)


def _raises(field: str, path: Path | None, call, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as err:
        call(*args, **kwargs)
    assert err.value.field == field
    if path is not None:
        assert err.value.path == str(path)
        assert str(path) in str(err.value)
    return err.value


def test_folder_bad_inputs(tmp_path, folder):
    _raises("root", tmp_path / "nope", load_image_folder, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    _raises("classes", tmp_path / "empty", load_image_folder, tmp_path / "empty")
    _raises(
        "classes", folder / "hemangioma", load_image_folder, folder, classes=("cyst", "hemangioma")
    )
    (folder / "hemangioma").mkdir()
    _raises("files", folder / "hemangioma", load_image_folder, folder)


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [
        ("P9_bad.png", b"not a png at all", "file"),
        ("P9_bad.npy", b"not an npy file", "file"),
        ("P9_stack.npy", np.zeros((2, 8, 8)), "shape"),
        ("P9_nan.npy", np.array([[0.0, np.nan], [1.0, 2.0]]), "values"),
        ("P9_text.npy", np.array([["a", "b"], ["c", "d"]]), "dtype"),
        ("nopatient.png", np.zeros((8, 8), dtype=np.uint8), "patient"),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path, name, content, field):
    path = tmp_path / "r" / "cyst" / name
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".png":
        _png(path, content)
    else:
        np.save(path, content)
    _raises(field, path, load_image_folder, tmp_path / "r")


def test_bad_pattern_and_size(folder):
    with pytest.raises(ConfigError, match="patient_pattern"):
        load_image_folder(folder, patient_pattern="(unclosed")
    with pytest.raises(ConfigError, match="patient_pattern"):
        load_image_folder(folder, patient_pattern="P[0-9]+")
    with pytest.raises(ConfigError, match="size"):
        load_image_folder(folder, size=2)
    with pytest.raises(ConfigError, match="window"):
        load_image_folder(folder, window=(5.0, -5.0))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("path,label\nx.png,cyst\n", "patient"),
        ("file,label,patient\nx.png,cyst,P1\n", "path"),
        ("path,label,patient\n", "path"),
        ("path,label,patient\nmetastasis/P01_a.png,cyst,\n", "patient"),
        ("path,label,patient\nmetastasis/P01_a.png,,P1\n", "label"),
        ("path,label,patient\nmetastasis/P01_a.png,lymphoma,P1\n", "label"),
    ],
)
def test_manifest_bad_inputs(folder, text, field):
    manifest = folder / "m.csv"
    manifest.write_text(text)
    err = _raises(field, manifest, load_image_manifest, manifest, classes=("cyst", "metastasis"))
    if "lymphoma" in text:
        assert "lymphoma" in err.message and "row 2" in err.message


def test_manifest_missing_files(tmp_path, folder):
    _raises("manifest", tmp_path / "none.csv", load_image_manifest, tmp_path / "none.csv")
    manifest = folder / "m.csv"
    manifest.write_text("path,label,patient\ncyst/gone.npy,cyst,P1\n")
    _raises("path", folder / "cyst" / "gone.npy", load_image_manifest, manifest)
    manifest.write_text("path,label,patient\ncyst/notes.txt,cyst,P1\n")
    _raises("path", folder / "cyst" / "notes.txt", load_image_manifest, manifest)

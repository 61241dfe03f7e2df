"""Image dataset specs: phantoms, ROI folders and manifests load as ImageSets; bad specs fail."""

from __future__ import annotations

import copy
import tomllib

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data import (
    ImageSet,
    load_images,
    load_recordings,
    load_spec,
    load_windows,
    parse_spec,
    read_windows,
    write_windows,
)
from imusynth.errors import DataError, SpecError

from .conftest import ROOT

PHANTOMS = BUNDLED_DIR / "liver_phantoms.toml"
ROIS = ROOT / "data_specs" / "example_rois.toml"


def _raw(path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _small_phantoms(**source) -> dict:
    raw = _raw(PHANTOMS)
    raw["source"].update({"counts": [3, 2, 4], "patients": 4, **source})
    return raw


def test_phantom_spec_loads_an_imageset_like_the_paper():
    spec = load_spec(PHANTOMS)
    assert spec.is_image and spec.windows is None and spec.rate_hz == 0.0
    ims = load_windows(spec)
    assert isinstance(ims, ImageSet)
    assert ims.X.shape == (182, 1, 64, 64) and ims.X.dtype == np.float32
    assert ims.class_counts() == {"cyst": 53, "metastasis": 64, "hemangioma": 65}
    assert len(np.unique(ims.groups)) == 60
    assert ims.X.min() >= -1.0 and ims.X.max() <= 1.0
    assert ims.channels == ("intensity",) and ims.units == ("scaled",)
    assert ims.sampling_rate_hz == 0.0 and not ims.is_synthetic.any()


def test_phantom_seed_and_counts_come_from_the_spec():
    a = load_images(parse_spec(_small_phantoms(seed=1)))
    b = load_images(parse_spec(_small_phantoms(seed=1)))
    c = load_images(parse_spec(_small_phantoms(seed=2)))
    assert np.bincount(a.y).tolist() == [3, 2, 4] and len(np.unique(a.groups)) == 4
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)


def test_roi_folder_spec_parses_patients_and_windows_hounsfield_units():
    spec = load_spec(ROIS)
    ims = load_windows(spec)
    assert ims.classes == ("cyst", "hemangioma")
    assert ims.class_counts() == {"cyst": 3, "hemangioma": 3}
    assert sorted(set(ims.groups)) == ["P001", "P002", "P003"]
    # Cyst content is about -20 HU and the parenchyma 100 HU: in the window [-50, 200]
    # they map to -0.76 and 0.2.
    raw = np.load(ROOT / "tests" / "data" / "rois" / "cyst" / "P001_lesion1.npy")
    centre = ims.X[0, 0, 28:36, 28:36].mean()
    assert centre == pytest.approx(2 * (raw[14:18, 14:18].mean() + 50) / 250 - 1, abs=0.05)


def test_manifest_spec_and_unknown_label(tmp_path):
    rows = ["path,label,patient"]
    for cls in ("cyst", "hemangioma"):
        for f in sorted((ROOT / "tests" / "data" / "rois" / cls).glob("*.npy")):
            rows.append(f"{f},{cls},{f.stem.split('_')[0]}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    raw = _raw(ROIS)
    raw["source"] = {"kind": "image-manifest", "path": "m.csv"}
    ims = load_windows(parse_spec(raw, path=tmp_path / "spec.toml"))
    assert ims.class_counts() == {"cyst": 3, "hemangioma": 3}
    raw["labels"]["classes"] = ["cyst"]
    with pytest.raises(DataError) as info:
        load_windows(parse_spec(raw, path=tmp_path / "spec.toml"))
    assert info.value.field == "label" and "hemangioma" in info.value.message


def test_missing_folder_and_class_name_the_file(tmp_path):
    raw = _raw(ROIS)
    raw["source"]["path"] = "nowhere"
    with pytest.raises(DataError) as info:
        load_windows(parse_spec(raw, path=tmp_path / "spec.toml"))
    assert "nowhere" in str(info.value)
    raw = _raw(ROIS)
    raw["labels"]["classes"] = ["cyst", "metastasis"]
    with pytest.raises(DataError) as info:
        load_windows(parse_spec(raw, path=ROIS))
    assert info.value.field == "classes" and "metastasis" in info.value.message


def test_images_are_not_recordings_nor_windows():
    spec = load_spec(PHANTOMS)
    with pytest.raises(DataError, match="not recordings"):
        load_recordings(spec)
    with pytest.raises(DataError) as info:
        load_windows(spec, length=64)
    assert info.value.field == "windows.length"
    with pytest.raises(DataError, match="not an image source"):
        load_images(ROOT / "data_specs" / "example_csv.toml")


def test_bad_spec_value_the_loader_rejects_names_the_key():
    raw = _raw(PHANTOMS)
    raw["source"] = {"kind": "phantoms", "patients": 500}  # more patients than 182 lesions
    with pytest.raises(DataError) as info:
        load_images(parse_spec(raw, path="p.toml"))
    assert info.value.field == "source.patients" and info.value.path == "p.toml"


def test_imageset_round_trips_through_hdf5(tmp_path):
    ims = load_images(parse_spec(_small_phantoms()))
    back = read_windows(write_windows(tmp_path / "real.h5", ims))
    assert isinstance(back, ImageSet)
    assert np.array_equal(back.X, ims.X) and np.array_equal(back.groups, ims.groups)
    assert back.classes == ims.classes and back.sampling_rate_hz == 0.0


WATCH = BUNDLED_DIR / "watch.toml"
TWO_CHANNELS = {"channels": ["a", "b"], "units": ["u", "u"]}


def _set(section, key, value):
    return lambda raw: raw[section].__setitem__(key, value)


def _add(section, value):
    return lambda raw: raw.__setitem__(section, value)


@pytest.mark.parametrize(
    ("path", "mutation", "field", "message"),
    [
        (PHANTOMS, _set("signal", "sampling_rate_hz", 50.0), "signal.sampling_rate_hz", "be 0"),
        (PHANTOMS, _add("signal", TWO_CHANNELS), "signal.channels", "one channel"),
        (PHANTOMS, _set("signal", "units", ["a", "b"]), "signal.units", "entries"),
        (PHANTOMS, _add("windows", {"length": 64, "stride": 64}), "windows", "not used"),
        (PHANTOMS, _add("columns", {"subject": "p"}), "columns", "not used"),
        (PHANTOMS, _set("source", "path", "x"), "source.path", "not used"),
        (PHANTOMS, _set("source", "counts", [1, 2]), "source.counts", "3 non-negative"),
        (PHANTOMS, _set("source", "counts", [1, True, 2]), "source.counts", "integers"),
        (PHANTOMS, _set("source", "seed", -1), "source.seed", ">= 0"),
        (PHANTOMS, _set("source", "patients", 0), "source.patients", "at least 1"),
        (PHANTOMS, _set("labels", "classes", ["a", "b", "c"]), "labels.classes", "phantoms"),
        (PHANTOMS, _set("image", "window", [0, 1]), "image.window", "not used"),
        (PHANTOMS, _set("image", "size", 8), "image.size", "at least 16"),
        (PHANTOMS, _set("image", "colour", 1), "image.colour", "unknown key"),
        (ROIS, lambda r: r["source"].pop("path"), "source.path", "missing"),
        (ROIS, _set("source", "seed", 1), "source.seed", "not used"),
        (ROIS, _set("source", "patient_pattern", "(unclosed"), "source.patient_pattern", "regular"),
        (ROIS, _set("source", "patient_pattern", "^P"), "source.patient_pattern", "group"),
        (ROIS, _set("image", "window", [200, -50]), "image.window", "low < high"),
        (ROIS, _set("image", "window", ["a", 1]), "image.window", "numbers"),
        (WATCH, _add("image", {"size": 64}), "image", "not used"),
        (WATCH, lambda r: r.pop("windows"), "windows", "missing section"),
        (WATCH, _set("source", "seed", 1), "source.seed", "not used"),
    ],
)  # fmt: skip
def test_invalid_image_specs_name_the_field(path, mutation, field, message):
    raw = copy.deepcopy(_raw(path))
    mutation(raw)
    with pytest.raises(SpecError) as info:
        parse_spec(raw, path="bad.toml")
    assert info.value.field == field
    assert message in info.value.message

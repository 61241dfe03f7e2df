"""Bad inputs to the data layer: each ends in exit 2 and one line naming the file and field.

Three tables of bad files (long-format CSVs, HDF5 windows files, files given where a spec
is expected), each row run through the CLI commands that read that kind of file, then the
same failures at library level. A row is (name, how to build the bad file, the field the
error must name).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from imusynth.data import load_recordings, load_spec, load_windows, read_windows, write_windows
from imusynth.data.windows import WindowSet
from imusynth.errors import DataError, SpecError, StoreError

from .conftest import DATA, ROOT

EXAMPLE = ROOT / "data_specs" / "example_csv.toml"
SECRET = b"secret-bytes-of-another-file " * 1000


# ----------------------------------------------------------------------------- helpers
def _csv_spec(tmp_path: Path, csv: Path) -> Path:
    text = EXAMPLE.read_text().replace("../tests/data/tiny_long.csv", str(csv))
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def _h5_spec(tmp_path: Path, h5: Path) -> Path:
    path = tmp_path / "h5spec.toml"
    path.write_text(
        f"""name = "h5"
[source]
kind = "hdf5"
path = "{h5}"
[signal]
sampling_rate_hz = 50.0
channels = ["ax", "ay", "az", "wx", "wy", "wz"]
units = ["g", "g", "g", "rad/s", "rad/s", "rad/s"]
[labels]
classes = ["ABD", "FEL"]
[windows]
length = 32
stride = 16
"""
    )
    return path


def _assert_clean_failure(code: int, err: str, path: Path, field: str, folder: Path) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert str(path) in lines[0], lines[0]
    assert field in lines[0], (field, lines[0])
    assert not list(folder.glob("out*")), "an output file was left behind"
    assert not list(folder.glob(".out*")), "a temporary file was left behind"


# ----------------------------------------------------------------- table 1: long CSVs
def _set(row: int, col: str, value):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
        return df

    return edit


def _set_recording(rec: str, col: str, value):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df[col] = df[col].astype(object)
        df.loc[df["recording"] == rec, col] = value
        return df

    return edit


def _copy_time(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[5, "time"] = df.loc[4, "time"]
    return df


def _duplicate_row(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df.iloc[:8], df.iloc[[7]], df.iloc[8:]], ignore_index=True)


def _fraction_subject(df: pd.DataFrame) -> pd.DataFrame:
    # A numeric subject column (a text one would keep "1.5" as a name).
    df["subject"] = np.where(df["recording"] == "r1", 1.5, 2.0)
    return df


def _unknown_label(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[df["recording"] == "r4", "label"] = "ROW"
    return df


CSV_CASES = [
    ("time-text", _set(5, "time", "abc"), "time"),
    ("time-nan", _set(5, "time", np.nan), "time"),
    ("time-inf", _set(5, "time", np.inf), "time"),
    ("time-duplicated", _copy_time, "time"),
    ("row-duplicated", _duplicate_row, "time"),
    ("subject-nan", _set_recording("r4", "subject", np.nan), "subject"),
    ("subject-fraction", _fraction_subject, "subject"),
    ("label-nan", _set_recording("r4", "label", np.nan), "label"),
    ("label-unknown", _unknown_label, "labels.classes"),
    ("label-mixed", _set(3, "label", "FEL"), "label"),
    ("recording-nan", _set(3, "recording", np.nan), "recording"),
    ("channel-nan", _set(6, "ay", np.nan), "ay"),
    ("channel-text", _set(6, "az", "x"), "az"),
    ("column-missing", lambda df: df.drop(columns="wz"), "wz"),
    ("side-unknown", _set(0, "side", "up"), "side"),
]


def _bad_csv(tmp_path: Path, edit) -> Path:
    df = edit(pd.read_csv(DATA / "tiny_long.csv"))
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", ["info", "windows"])
@pytest.mark.parametrize(("name", "edit", "field"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_bad_csv_cli(run_cli, tmp_path, command, name, edit, field):
    csv = _bad_csv(tmp_path, edit)
    spec = _csv_spec(tmp_path, csv)
    args = ["data", command, spec]
    args += ["--out", tmp_path / "out.h5"] if command == "windows" else []
    code, _, err = run_cli(*args)
    _assert_clean_failure(code, err, csv, f"{csv}: {field}:", tmp_path)


# ---------------------------------------------------------- table 2: HDF5 windows files
def _replace(name: str, value):
    def edit(f: h5py.File, tmp: Path) -> None:
        del f[name]
        f[name] = value

    return edit


def _attr(name: str, value):
    def edit(f: h5py.File, tmp: Path) -> None:
        f.attrs[name] = value

    return edit


def _external_storage(f: h5py.File, tmp: Path) -> None:
    secret = tmp / "secret.txt"
    secret.write_bytes(SECRET)
    shape = f["X"].shape
    del f["X"]
    nbytes = int(np.prod(shape)) * 4
    f.create_dataset("X", shape, np.float32, external=[(str(secret), 0, nbytes)])


def _other_file(tmp: Path) -> Path:
    other = tmp / "other.h5"
    with h5py.File(other, "w") as g:
        g["X"] = np.zeros((24, 6, 32), np.float32)
    return other


def _external_link(name: str):
    def edit(f: h5py.File, tmp: Path) -> None:
        other = _other_file(tmp)
        if name in f:
            del f[name]
        f[name] = h5py.ExternalLink(str(other), "/X")

    return edit


def _virtual(f: h5py.File, tmp: Path) -> None:
    other = _other_file(tmp)
    layout = h5py.VirtualLayout((24, 6, 32), np.float32)
    layout[:] = h5py.VirtualSource(str(other), "X", shape=(24, 6, 32))
    del f["X"]
    f.create_virtual_dataset("X", layout)


def _soft_link_away(f: h5py.File, tmp: Path) -> None:
    del f["X"]
    f["X"] = h5py.SoftLink("/nowhere/X")


def _group_for(name: str):
    def edit(f: h5py.File, tmp: Path) -> None:
        del f[name]
        f.create_group(name)

    return edit


def _del_attr(name: str):
    def edit(f: h5py.File, tmp: Path) -> None:
        del f.attrs[name]

    return edit


Y = np.tile(np.repeat([0, 1], 4), 3)
H5_CASES = [
    ("labels-fractional", _replace("y", Y + 0.5), "y"),
    ("labels-nan", _replace("y", np.where(Y == 1, np.nan, 0.0)), "y"),
    ("labels-text", _replace("y", np.array([b"a"] * 24)), "y"),
    ("labels-out-of-range", _replace("y", Y + 1), "y"),
    ("classes-duplicated", _attr("classes", ["ABD", "ABD"]), "classes"),
    ("rate-nan", _attr("sampling_rate_hz", np.nan), "sampling_rate_hz"),
    ("rate-zero", _attr("sampling_rate_hz", 0.0), "sampling_rate_hz"),
    ("rate-negative", _attr("sampling_rate_hz", -50.0), "sampling_rate_hz"),
    ("rate-text", _attr("sampling_rate_hz", "fast"), "sampling_rate_hz"),
    ("rate-missing", _del_attr("sampling_rate_hz"), "sampling_rate_hz"),
    ("groups-fractional", _replace("groups", np.linspace(0, 1, 24)), "groups"),
    ("groups-nan", _replace("groups", np.full(24, np.nan)), "groups"),
    ("side-integers", _replace("side", np.zeros(24, np.int64)), "side"),
    ("synthetic-half", _replace("is_synthetic", np.full(24, 0.5)), "is_synthetic"),
    ("X-text", _replace("X", np.array([[[b"a"] * 32] * 6] * 24)), "X"),
    ("X-nan", _replace("X", np.full((24, 6, 32), np.nan, np.float32)), "X"),
    ("X-a-group", _group_for("X"), "X"),
    ("X-external-storage", _external_storage, "X"),
    ("X-external-link", _external_link("X"), "X"),
    ("X-virtual", _virtual, "X"),
    ("X-soft-link-nowhere", _soft_link_away, "X"),
    ("other-external-link", _external_link("notes"), "notes"),
]


@pytest.fixture
def good_h5(tmp_path, tiny_windows) -> Path:
    return write_windows(tmp_path / "windows.h5", tiny_windows)


def _bad_h5(good: Path, edit) -> Path:
    with h5py.File(good, "a") as f:
        edit(f, good.parent)
    return good


@pytest.mark.parametrize("command", ["info", "windows", "balance"])
@pytest.mark.parametrize(("name", "edit", "field"), H5_CASES, ids=[c[0] for c in H5_CASES])
def test_bad_windows_file_cli(run_cli, tmp_path, good_h5, command, name, edit, field):
    h5 = _bad_h5(good_h5, edit)
    out = tmp_path / "out.h5"
    if command == "balance":
        # balance reads the windows file before it opens the run folder
        args = ["balance", h5, "--run", tmp_path / "no-run", "--out", out]
    else:
        args = ["data", command, _h5_spec(tmp_path, h5)]
        args += ["--out", out] if command == "windows" else []
    code, _, err = run_cli(*args)
    _assert_clean_failure(code, err, h5, f"{h5}: {field}:", tmp_path)
    assert "secret" not in err


# ------------------------------------------------ table 3: other files given as a spec
def _write(name: str, data: bytes):
    def build(tmp: Path, good: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return build


SPEC_CASES = [
    ("hdf5-windows-file", lambda tmp, good: good, "looks like an HDF5 file"),
    ("npy-file", _write("x.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}"), "NumPy"),
    ("random-binary", _write("x.toml", bytes(range(256)) * 4), "binary"),
    ("latin-1-text", _write("x.toml", 'name = "caf\xe9"\n'.encode("latin-1")), "UTF-8"),
    ("folder", lambda tmp, good: tmp, "folder"),
    ("missing", lambda tmp, good: tmp / "nope.toml", "not found"),
]


@pytest.mark.parametrize(("name", "build", "text"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_not_a_spec_cli(run_cli, tmp_path, good_h5, name, build, text):
    path = build(tmp_path, good_h5)
    code, _, err = run_cli("data", "windows", path, "--out", tmp_path / "out.h5")
    _assert_clean_failure(code, err, path, f"{path}: spec:", tmp_path)
    assert text in err


def test_table_sizes():
    # The report quotes these counts ("tried N, held N").
    assert len(CSV_CASES) + len(H5_CASES) + len(SPEC_CASES) == 43


# ------------------------------------------------------------------------ library level
def test_library_text_time_names_column(tmp_path):
    csv = _bad_csv(tmp_path, _set(5, "time", "10s"))
    with pytest.raises(DataError, match=r"data\.csv: time: time column is not numeric"):
        load_recordings(_csv_spec(tmp_path, csv))


def test_library_duplicate_timestamp(tmp_path):
    csv = _bad_csv(tmp_path, _copy_time)
    with pytest.raises(DataError, match=r"time: recording r1 has the timestamp 0\.08 more"):
        load_recordings(_csv_spec(tmp_path, csv))


def test_library_nan_subject(tmp_path):
    # A whole recording without a subject used to become subject "nan".
    csv = _bad_csv(tmp_path, _set_recording("r4", "subject", np.nan))
    first = int(np.flatnonzero(pd.read_csv(csv)["recording"] == "r4")[0]) + 1
    with pytest.raises(DataError, match=rf"subject: empty or NaN value in data row {first}$"):
        load_recordings(_csv_spec(tmp_path, csv))


def test_library_integer_subjects_read_as_text(tmp_path):
    def integer_subjects(df):
        df["subject"] = df["subject"].str[1:].astype(int) * 7
        return df

    csv = _bad_csv(tmp_path, integer_subjects)
    recs = load_recordings(_csv_spec(tmp_path, csv))
    assert sorted(set(recs.groups)) == ["14", "7"]


def test_library_fractional_labels_refused():
    args = (np.zeros((2, 1, 4), np.float32), [0, 1.5], ["a", "b"], ("u", "v"), ("x",), ("g",))
    with pytest.raises(DataError, match=r"y: must be whole numbers, got 1\.5$"):
        WindowSet(*args, 50.0)
    ws = WindowSet(np.zeros((2, 1, 4), np.float32), [0.0, 1.0], ["a", "b"], ("u", "v"), ("x",),
                   ("g",), 50.0)  # fmt: skip
    assert ws.y.tolist() == [0, 1]


def test_library_duplicate_classes_refused(tmp_path, good_h5):
    _bad_h5(good_h5, _attr("classes", ["FEL", "FEL"]))
    with pytest.raises(StoreError, match="classes: names must be unique, FEL repeats"):
        read_windows(good_h5)
    # Through a spec it must not be re-coded either (30 windows silently relabelled before).
    with pytest.raises(StoreError, match="classes"):
        load_windows(_h5_spec(tmp_path, good_h5))


@pytest.mark.parametrize("value", [np.nan, 0.0, -1.0])
def test_library_bad_rate(good_h5, value):
    _bad_h5(good_h5, _attr("sampling_rate_hz", value))
    with pytest.raises(StoreError, match="sampling_rate_hz: must be a positive number"):
        read_windows(good_h5)


def test_library_external_storage_never_read(good_h5):
    _bad_h5(good_h5, _external_storage)
    with pytest.raises(StoreError, match="X is stored in an external file") as info:
        read_windows(good_h5)
    assert "secret" not in str(info.value)
    from imusynth.data.stream import WindowStream

    with pytest.raises(StoreError, match="refused"):
        WindowStream(good_h5)


@pytest.mark.parametrize(("edit", "what"), [(_external_link("X"), "external link"),
                                            (_virtual, "virtual dataset")])  # fmt: skip
def test_library_links_out_of_file_refused(good_h5, edit, what):
    _bad_h5(good_h5, edit)
    with pytest.raises(StoreError, match=what):
        read_windows(good_h5)


def test_library_integer_groups_read_as_text(good_h5, tiny_windows):
    _bad_h5(good_h5, _replace("groups", np.repeat([1, 2, 30], 8)))
    ws = read_windows(good_h5)
    assert ws.groups.tolist() == ["1"] * 8 + ["2"] * 8 + ["30"] * 8
    np.testing.assert_array_equal(ws.X, tiny_windows.X)  # the rest is untouched


def test_library_round_trip_still_exact(tmp_path, tiny_windows):
    back = read_windows(write_windows(tmp_path / "w.h5", tiny_windows))
    for name in ("X", "y", "groups", "is_synthetic", "recording", "side"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tiny_windows, name))
    assert back.sampling_rate_hz == tiny_windows.sampling_rate_hz


def test_library_hdf5_given_as_spec(good_h5):
    with pytest.raises(SpecError, match="spec: not a TOML spec: it looks like an HDF5 file"):
        load_spec(good_h5)


@pytest.mark.parametrize(("name", "edit", "field"), H5_CASES, ids=[c[0] for c in H5_CASES])
def test_library_bad_windows_file(good_h5, name, edit, field):
    h5 = _bad_h5(good_h5, edit)
    with pytest.raises(StoreError) as info:
        read_windows(h5)
    assert (info.value.path, info.value.field) == (str(h5), field)


# What the streaming reader checks up front (it reads neither groups nor, until a batch is
# asked for, the signal values).
STREAM_SKIPS = {"groups-fractional", "groups-nan", "side-integers", "synthetic-half", "X-nan"}


@pytest.mark.parametrize(
    ("name", "edit", "field"),
    [c for c in H5_CASES if c[0] not in STREAM_SKIPS],
    ids=[c[0] for c in H5_CASES if c[0] not in STREAM_SKIPS],
)
def test_library_bad_windows_file_streamed(good_h5, name, edit, field):
    from imusynth.data.stream import WindowStream

    h5 = _bad_h5(good_h5, edit)
    with pytest.raises(StoreError) as info:
        WindowStream(h5)
    assert (info.value.path, info.value.field) == (str(h5), field)

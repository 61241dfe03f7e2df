"""Subject-disjoint train/test splits: ``split_by_subject`` and ``imusynth data split``."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.data import WindowSet, read_windows, write_windows
from imusynth.data.splits import split_by_subject
from imusynth.errors import DataError


def _paired(rows_per_subject: int = 3) -> WindowSet:
    """Six subjects, each class recorded by two of them only (A: s1 s2, B: s3 s4, C: s5 s6),
    so a blind draw of three test subjects often misses a class."""
    subjects = [f"s{i}" for i in range(1, 7)]
    groups = np.repeat(subjects, rows_per_subject)
    y = np.repeat([0, 0, 1, 1, 2, 2], rows_per_subject)
    X = np.arange(len(y) * 2 * 4, dtype=np.float32).reshape(len(y), 2, 4)  # (N, C, T)
    return WindowSet(X, y, groups, ("A", "B", "C"), ("ax", "ay"), ("g", "g"), 50.0)


def _sides_hold_every_class(train: WindowSet, test: WindowSet) -> bool:
    return all(n > 0 for n in train.class_counts().values()) and all(
        n > 0 for n in test.class_counts().values()
    )


@pytest.mark.parametrize("seed", range(8))
def test_draw_is_subject_disjoint_and_stratified(seed):
    ws = _paired()
    train, test = split_by_subject(ws, n_test=3, seed=seed)
    assert not set(train.groups) & set(test.groups)
    assert len(set(test.groups)) == 3
    assert len(train) + len(test) == len(ws)
    assert _sides_hold_every_class(train, test)


def test_same_seed_same_split_and_seeds_differ():
    ws = _paired()
    picks = [tuple(sorted(set(split_by_subject(ws, n_test=3, seed=s)[1].groups))) for s in range(8)]
    again = [tuple(sorted(set(split_by_subject(ws, n_test=3, seed=s)[1].groups))) for s in range(8)]
    assert picks == again
    assert len(set(picks)) > 1


def test_fraction_rounds_to_whole_subjects_on_both_sides():
    ws = _paired()
    assert len(set(split_by_subject(ws, fraction=0.5, seed=0)[1].groups)) == 3
    # 0.01 of six subjects rounds to none: one subject still goes to test; 0.99 leaves one
    # to train; both then fail stratification here, naming a class.
    for fraction in (0.01, 0.99):
        with pytest.raises(DataError, match=r"class '.'") as exc:
            split_by_subject(ws, fraction=fraction)
        assert exc.value.field == "fraction"


def test_named_test_groups_are_taken_as_given():
    ws = _paired()
    train, test = split_by_subject(ws, test_groups=["s1", "s3", "s6"])
    assert sorted(set(test.groups)) == ["s1", "s3", "s6"]
    assert sorted(set(train.groups)) == ["s2", "s4", "s5"]
    np.testing.assert_array_equal(test.X, ws.X[np.isin(ws.groups, ["s1", "s3", "s6"])])


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"n_test": 1}, "n_test", "class '"),  # one test subject cannot hold three classes
        ({"test_groups": ["s1", "s2", "s3"]}, "test_groups", "class 'A'"),
        ({"test_groups": ["s1", "s9"]}, "test_groups", "s9"),
        ({"n_test": 6}, "n_test", "n_test"),
        ({"fraction": 1.5}, "fraction", "between 0 and 1"),
        ({}, "n_test", "exactly one"),
        ({"n_test": 2, "fraction": 0.5}, "fraction", "exactly one"),
    ],
)
def test_bad_requests_raise_data_error_naming_the_field(kwargs, field, words):
    with pytest.raises(DataError, match=words) as exc:
        split_by_subject(_paired(), **kwargs)
    assert exc.value.field == field


def test_class_of_one_subject_is_named():
    ws = _paired()
    ws.y[ws.groups == "s2"] = 1  # now A is recorded by s1 alone
    with pytest.raises(DataError, match="class 'A' is recorded by one subject only"):
        split_by_subject(ws, n_test=2)


def test_synthetic_rows_are_refused():
    ws = _paired()
    ws.is_synthetic[:2] = True
    with pytest.raises(DataError, match="2 synthetic rows") as exc:
        split_by_subject(ws, n_test=3)
    assert exc.value.field == "is_synthetic"


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def windows_file(tmp_path):
    return write_windows(tmp_path / "w.h5", _paired())


def test_cli_writes_both_sides_and_reports_them(run_cli, windows_file, tmp_path):
    tr, te = tmp_path / "tr.h5", tmp_path / "te.h5"
    code, out, err = run_cli(
        "data",
        "split",
        windows_file,
        "--train",
        tr,
        "--test",
        te,
        "--test-subjects",
        "3",
        "--seed",
        "4",
    )
    assert code == 0, err
    train, test = read_windows(tr), read_windows(te)
    assert not set(train.groups) & set(test.groups)
    assert _sides_hold_every_class(train, test)
    assert len(train) + len(test) == len(_paired())
    for part in (train, test):
        assert ", ".join(sorted(set(part.groups))) in out
        assert ", ".join(f"{c} {n}" for c, n in part.class_counts().items()) in out
    assert "split:" in test.source and "seed=4" in test.source
    # the same seed gives the same files
    code, _, _ = run_cli(
        "data",
        "split",
        windows_file,
        "--train",
        tmp_path / "tr2.h5",
        "--test",
        tmp_path / "te2.h5",
        "--test-subjects",
        "3",
        "--seed",
        "4",
    )
    assert code == 0
    np.testing.assert_array_equal(read_windows(tmp_path / "te2.h5").X, test.X)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--test-subjects", "1"], ["w.h5", "--test-subjects", "class '"]),
        (["--test-groups", "s1,s2,s3"], ["w.h5", "--test-groups", "class 'A'"]),
        (["--test-groups", "s1,nobody"], ["w.h5", "--test-groups", "nobody"]),
        (["--test-fraction", "1.2"], ["--test-fraction"]),
        (["--test-subjects", "2", "--test-fraction", "0.5"], ["--test-fraction"]),
        ([], ["--test-subjects"]),
    ],
)
def test_cli_errors_are_one_line_and_leave_no_file(run_cli, windows_file, tmp_path, extra, words):
    tr, te = tmp_path / "tr.h5", tmp_path / "te.h5"
    code, _, err = run_cli("data", "split", windows_file, "--train", tr, "--test", te, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not tr.exists() and not te.exists()


def test_cli_checks_outputs_before_reading(run_cli, tmp_path):
    missing = tmp_path / "not-there.h5"  # the input is never opened when an output is bad
    code, _, err = run_cli(
        "data",
        "split",
        missing,
        "--train",
        tmp_path,
        "--test",
        tmp_path / "te.h5",
        "--test-subjects",
        "1",
    )
    assert code == 2 and "--train" in err and "folder" in err
    code, _, err = run_cli(
        "data",
        "split",
        missing,
        "--train",
        tmp_path / "same.h5",
        "--test",
        tmp_path / "same.h5",
        "--test-subjects",
        "1",
    )
    assert code == 2 and "--test" in err and "same file" in err
    assert not (tmp_path / "same.h5").exists()


def test_cli_failed_second_write_leaves_neither_file(run_cli, windows_file, tmp_path, monkeypatch):
    import imusynth.data as data

    real = data.write_windows
    calls = []

    def full_disk_on_second(path, ws, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(path))
        return real(path, ws, **kw)

    monkeypatch.setattr(data, "write_windows", full_disk_on_second)
    tr, te = tmp_path / "tr.h5", tmp_path / "te.h5"
    code, _, err = run_cli(
        "data", "split", windows_file, "--train", tr, "--test", te, "--test-subjects", "3"
    )
    assert code == 2 and "No space left" in err and len(calls) == 2
    assert not tr.exists() and not te.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.h5"]

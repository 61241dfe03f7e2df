"""The data commands, and every bad-input case ending in exit 2 with one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data import read_windows, write_windows

from .conftest import DATA, ROOT

WATCH = BUNDLED_DIR / "watch.toml"
EXAMPLE = ROOT / "data_specs" / "example_csv.toml"


def _spec(tmp_path: Path, csv: Path | None = None, **replace: str) -> Path:
    text = EXAMPLE.read_text().replace(
        "../tests/data/tiny_long.csv", str(csv or DATA / "tiny_long.csv")
    )
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def _csv(tmp_path: Path, edit) -> Path:
    df = pd.read_csv(DATA / "tiny_long.csv")
    df = edit(df)
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def _assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def test_data_info_watch(run_cli):
    code, out, _ = run_cli("data", "info", WATCH)
    assert code == 0
    assert "recordings  140" in out and "subjects    10" in out
    assert "ax [g]" in out and "wz [rad/s]" in out and "50 Hz" in out
    for name in ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"):
        assert f"  {name}" in out
    assert "min in total" in out
    assert "gravity     included (specific force)" in out


def test_data_info_says_when_gravity_was_removed(run_cli, tmp_path):
    text = Path(WATCH).read_text().replace("gravity = true", "gravity = false")
    assert "gravity = false" in text
    spec = tmp_path / "linear.toml"
    spec.write_text(text)
    code, out, err = run_cli("data", "info", spec)
    assert code == 0, err
    assert "gravity     removed (linear acceleration)" in out


def test_data_windows_writes_file(run_cli, tmp_path):
    out = tmp_path / "w.h5"
    code, stdout, _ = run_cli(
        "data", "windows", EXAMPLE, "--out", out, "--length", "40", "--stride", "20"
    )
    assert code == 0 and out.exists()
    ws = read_windows(out)
    assert ws.X.shape[1:] == (6, 40)
    # r1 120 -> 5, r2 100 -> 4, r3 110 -> 4, r4 30 dropped
    assert len(ws) == 13 and "dropped 1 recording" in stdout
    n_subjects = len(set(ws.groups))
    assert stdout.splitlines()[-1] == (
        f"wrote 13 windows of 6 x 40 ({n_subjects} subjects, {ws.n_classes} classes) to {out}"
    )
    assert ws.source.startswith("spec:")


CASES = {
    "unknown key": (
        lambda t: _spec(t, **{'placement = "wrist"': 'placement = "wrist"\ngain = 2'}),
        ["spec.toml", "signal.gain", "unknown key"],
    ),
    "missing key": (
        lambda t: _spec(t, **{"sampling_rate_hz = 50.0\n": ""}),
        ["spec.toml", "signal.sampling_rate_hz", "missing"],
    ),
    "wrong type": (
        lambda t: _spec(t, **{"length = 50": 'length = "fifty"'}),
        ["spec.toml", "windows.length", "expected int"],
    ),
    "missing column": (
        lambda t: _spec(t, _csv(t, lambda d: d.drop(columns=["wy"]))),
        ["data.csv", "wy", "missing column"],
    ),
    "nan": (
        lambda t: _spec(t, _csv(t, lambda d: d.assign(az=d.az.where(d.index != 5)))),
        ["data.csv", "az", "NaN or Inf"],
    ),
    "inf": (
        lambda t: _spec(t, _csv(t, lambda d: d.assign(ax=d.ax.where(d.index != 9, np.inf)))),
        ["data.csv", "ax", "NaN or Inf"],
    ),
    "unknown class": (
        lambda t: _spec(
            t, _csv(t, lambda d: d.assign(label=d.label.where(d.recording != "r2", "ROW")))
        ),
        ["data.csv", "labels.classes", "ROW"],
    ),
    "short recording": (
        lambda t: _spec(t, **{'short = "drop"': 'short = "error"'}),
        ["spec.toml", "windows.length", "r4 has 30 samples"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_without_output(case, run_cli, tmp_path):
    make, fragments = CASES[case]
    spec = make(tmp_path)
    out = tmp_path / "out.h5"
    code, _, err = run_cli("data", "windows", spec, "--out", out)
    _assert_one_line_error(code, err, *fragments)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.h5")]


def _hdf5_spec(tmp_path: Path, target: Path, channels: str | None = None) -> Path:
    text = (
        EXAMPLE.read_text()
        .replace('kind = "csv"', 'kind = "hdf5"')
        .replace("../tests/data/tiny_long.csv", str(target))
    )
    if channels:
        text = text.replace('channels = ["ax", "ay", "az", "wx", "wy", "wz"]', channels).replace(
            'units = ["g", "g", "g", "rad/s", "rad/s", "rad/s"]', 'units = ["g", "g", "g"]'
        )
    path = tmp_path / "h5spec.toml"
    path.write_text(text)
    return path


def test_unreadable_or_truncated_hdf5(run_cli, tmp_path, tiny_windows):
    good = write_windows(tmp_path / "good.h5", tiny_windows)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(good.read_bytes()[:700])
    code, _, err = run_cli("data", "info", _hdf5_spec(tmp_path, bad))
    _assert_one_line_error(code, err, "bad.h5", "unreadable or truncated")


def test_channel_count_mismatch(run_cli, tmp_path, tiny_windows):
    good = write_windows(tmp_path / "good.h5", tiny_windows)
    spec = _hdf5_spec(tmp_path, good, channels='channels = ["ax", "ay", "az"]')
    code, _, err = run_cli("data", "info", spec)
    _assert_one_line_error(code, err, "good.h5", "signal.channels", "6 channels")


def test_hdf5_source_info(run_cli, tmp_path, tiny_windows):
    good = write_windows(tmp_path / "good.h5", tiny_windows)
    code, out, _ = run_cli("data", "info", _hdf5_spec(tmp_path, good))
    assert code == 0 and "windows     24" in out


def test_output_folder_must_exist(run_cli, tmp_path):
    code, _, err = run_cli("data", "windows", EXAMPLE, "--out", tmp_path / "no" / "w.h5")
    _assert_one_line_error(code, err, "--out", "does not exist")


def test_missing_spec_file(run_cli, tmp_path):
    code, _, err = run_cli("data", "info", tmp_path / "nope.toml")
    _assert_one_line_error(code, err, "nope.toml", "not found")


def test_every_subcommand_has_help(run_cli):
    from imusynth.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in commands:
        code, out, _ = run_cli(name, "--help")
        assert code == 0 and "usage: imusynth" in out

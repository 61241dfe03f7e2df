"""Reliability of the command line: a table of bad inputs, each ending with exit code 2 and
one stderr line naming the file and the field, no traceback and nothing left behind; the
demo on a clean clone; the thread policy; the Turing kit's CSV escaping; ``--help``."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data import WindowSet, read_windows, write_windows

from .conftest import tiny_window_set

TINY_GAN = [
    "--set",
    "train.steps=2",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.checkpoint_every=0",
    "--set",
    "model.g_width=32",
    "--set",
    "model.d_width=8",
    "--set",
    "model.generator=conv1d",
]


def _windows() -> WindowSet:
    return tiny_window_set()


def _cli(*args) -> tuple[int, str, str]:
    """``imusynth ARGS`` in-process, with its stdout and stderr captured by the caller."""
    from imusynth.cli import main

    try:
        return main([str(a) for a in args]), "", ""
    except SystemExit as exc:  # argparse exits on bad usage
        return (exc.code if isinstance(exc.code, int) else 1), "", ""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Inputs shared by the table: windows, an empty windows file, a tiny trained run, a
    sheet folder with a corrupt page, a file standing where a folder should be."""
    from imusynth.cli import main

    d = tmp_path_factory.mktemp("inputs")
    ws = _windows()
    w = write_windows(d / "w.h5", ws)
    empty = write_windows(d / "empty.h5", ws.subset(np.zeros(len(ws), dtype=bool)))
    run = d / "run"
    assert main(["train", "--data", str(w), "--out", str(run), "-q", *TINY_GAN]) == 0
    sheet = d / "sheet"
    assert (
        main(
            ["turing", "make", "--real", str(w), "--synthetic", str(w), "--n", "4"]
            + ["--out", str(sheet), "-q"]
        )
        == 0
    )
    (sheet / "sheet.html").write_text('<body data-classes="[oops">', encoding="utf-8")
    answers = d / "answers.csv"
    answers.write_text("reader,item,origin,class\nA,1,real,ABD\n", encoding="utf-8")
    blocker = d / "blocker"
    blocker.write_text("a file in the way\n")
    user = d / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine\n")
    return {
        "w": w,
        "empty": empty,
        "run": run,
        "sheet": sheet,
        "answers": answers,
        "blocker": blocker,
        "user": user,
        "d": d,
        "config": BUNDLED_DIR / "watch_cgan.toml",
        "spec": BUNDLED_DIR / "watch.toml",
    }


# (id, argv with {name} placeholders, words stderr must hold, output path that must not
# exist afterwards (relative to the case's own folder "{o}"), skip as root).
CASES = [
    ("windows-out-is-folder", "data windows {spec} --out {o}", ["--out", "is a folder"], None),
    ("windows-parent-missing", "data windows {spec} --out {o}/no/w.h5", ["--out", "no"], "no"),
    ("windows-file-in-way", "data windows {spec} --out {blocker}/w.h5", ["--out", "blocker"], None),
    (
        "sample-empty-classes",
        "sample --run {run} --per-class 2 --classes , --out {o}/s.h5",
        ["--classes"],
        "s.h5",
    ),
    (
        "sample-huge",
        "sample {run} --per-class 1000000000 --out {o}/s.h5",
        ["--per-class", "1000000000"],
        "s.h5",
    ),
    ("sample-no-run", "sample --per-class 2 --out {o}/s.h5", ["--run"], "s.h5"),
    (
        "sample-two-runs",
        "sample {run} --run {o}/other --per-class 2 --out {o}/s.h5",
        ["--run", "other"],
        "s.h5",
    ),
    ("sample-out-is-folder", "sample {run} --per-class 2 --out {o}", ["--out", "folder"], None),
    (
        "balance-out-in-file",
        "balance {w} --run {run} --out {blocker}/b.h5",
        ["--out", "blocker"],
        None,
    ),
    ("balance-out-is-folder", "balance {w} --run {run} --out {o}", ["--out", "folder"], None),
    ("ik-no-windows", "ik {empty} --out {o}/ik.h5", ["empty.h5", "X", "no windows"], "ik.h5"),
    ("ik-out-is-folder", "ik {w} --out {o}", ["--out", "folder"], None),
    ("simulate-out-in-file", "simulate --exercise ABD --out {blocker}/s.h5", ["--out"], None),
    (
        "evaluate-out-is-file",
        "evaluate --train {w} --test {w} --synthetic {w} --out {blocker}",
        ["--out", "blocker", "is a file"],
        None,
    ),
    (
        "turing-make-too-many",
        "turing make --real {w} --synthetic {w} --n 1000 --out {o}/sheet",
        ["--n"],
        "sheet",
    ),
    (
        "turing-make-out-is-file",
        "turing make --real {w} --synthetic {w} --out {blocker}",
        ["--out", "is a file"],
        None,
    ),
    (
        "turing-score-corrupt-page",
        "turing score {sheet} {answers}",
        ["sheet.html", "data-classes"],
        None,
    ),
    (
        "train-set-out-of-range",
        "train --data {w} --out {o}/r --set train.steps=0",
        ["--set train.steps=0", "command-line"],
        "r",
    ),
    (
        "train-set-unknown-key",
        "train --data {w} --out {o}/r --set train.stepz=3",
        ["--set train.stepz=3"],
        "r",
    ),
    (
        "train-set-bad-type",
        "train --data {w} --out {o}/r --set train.steps=many",
        ["--set train.steps=many"],
        "r",
    ),
    ("train-out-is-file", "train --data {w} --out {blocker}", ["--out", "is a file"], None),
    ("demo-out-in-file", "demo --out {blocker}/runs/demo", ["--out", "blocker"], None),
    ("demo-into-user-folder", "demo --out {user}", ["user", "--out", "not written"], None),
    (
        "demo-set-bad",
        "demo --out {o}/demo --set model.generator=magic",
        ["--set model.generator=magic"],
        "demo",
    ),
    ("experiment-out-is-file", "experiment {config} --out {blocker}", ["--out"], None),
]


@pytest.mark.parametrize(
    ("argv", "words", "gone"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_exits_2_with_one_line(files, tmp_path, capsys, argv, words, gone):
    user_before = sorted(p.name for p in files["user"].iterdir())
    args = argv.format(o=tmp_path, **files).split()
    code, _, _ = _cli(*args)
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    if gone is not None:
        assert not (tmp_path / gone).exists()
    assert sorted(p.name for p in files["user"].iterdir()) == user_before
    assert files["blocker"].read_text() == "a file in the way\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused_before_work(files, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, _ = _cli("sample", files["run"], "--per-class", "2", "--out", locked / "s.h5")
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "not writable" in err
    finally:
        locked.chmod(0o700)


def test_file_system_refusal_is_one_line(monkeypatch, capsys):
    from imusynth.cli import data as cli_data

    def refuse(args):
        raise PermissionError(13, "Permission denied", "/data/locked/w.h5")

    monkeypatch.setattr(cli_data, "_cmd_data_info", refuse)
    code, _, _ = _cli("data", "info", "watch.toml")
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "imusynth: error: /data/locked/w.h5: Permission denied"


def test_set_error_does_not_blame_the_config_file(files, tmp_path, capsys):
    code, _, _ = _cli(
        "train", "--config", files["config"], "--data", files["w"], "--out", tmp_path / "r",
        "--set", "train.batch_size=0",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--set train.batch_size=0" in err and "watch_cgan.toml" not in err


def test_train_seed_sets_the_runs_seed(files, tmp_path, capsys):
    from imusynth.train.config import load_config

    for seed in ("7", "8"):
        out = tmp_path / f"r{seed}"
        code, _, _ = _cli(
            "train", "--data", files["w"], "--out", out, "--seed", seed, "-q", *TINY_GAN
        )
        assert code == 0, capsys.readouterr().err
        assert load_config(out / "config.toml").train.seed == int(seed)


def test_sample_takes_run_as_option_or_positional(files, tmp_path, capsys):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    common = ["--per-class", "3", "--classes", "FEL", "--seed", "1", "-q"]
    assert _cli("sample", "--run", files["run"], *common, "--out", a)[0] == 0
    assert _cli("sample", files["run"], *common, "--out", b)[0] == 0
    np.testing.assert_array_equal(read_windows(a).X, read_windows(b).X)
    assert read_windows(a).class_counts() == {"ABD": 0, "FEL": 3}


DEMO = ["--device", "cpu", "-q", *TINY_GAN]


def test_demo_into_missing_folders(tmp_path, capsys, monkeypatch):
    """The README's first command on a clean clone: ``runs/`` does not exist yet."""
    monkeypatch.chdir(tmp_path)
    assert not Path("runs").exists()
    code, _, _ = _cli("demo", *DEMO)  # --out runs/demo, the default
    assert code == 0, capsys.readouterr().err
    out = Path("runs/demo")
    assert (out / "balanced.h5").is_file() and any((out / "run").glob("*.png"))
    assert len(set(read_windows(out / "balanced.h5").class_counts().values())) == 1


def test_demo_keeps_a_finished_demo_and_restarts_an_unfinished_one(tmp_path, capsys):
    from imusynth.cli import DEMO_MARK

    done, unfinished = tmp_path / "demo", tmp_path / "demo-2"
    for folder, state in ((done, "done"), (unfinished, "running")):
        (folder / "run").mkdir(parents=True)
        (folder / "run" / "old.pt").write_bytes(b"x")
        (folder / DEMO_MARK).write_text(f'{{"state": "{state}"}}')
    code, _, _ = _cli("demo", "--out", done, *DEMO)
    assert code == 0, capsys.readouterr().err
    assert (done / "run" / "old.pt").exists() and not (done / "balanced.h5").exists()
    assert not (unfinished / "run" / "old.pt").exists()
    assert (unfinished / "balanced.h5").is_file()
    assert not (tmp_path / "demo-3").exists()


# ----------------------------------------------------------------------------- --help


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_every_option_has_help_and_shows_its_default():
    from imusynth.cli import build_parser

    checked = 0
    for parser in _parsers(build_parser()):
        parser.format_help()  # every help renders
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            if isinstance(action, argparse._SubParsersAction):
                continue
            name = f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{name} has no help text"
            text = formatter._expand_help(action)
            default = action.default
            if action.option_strings and not (default is None or isinstance(default, bool)):
                assert "default" in text, f"{name} does not show its default: {text!r}"
            checked += 1
    assert checked > 50


# ----------------------------------------------------------------------------- threads


@pytest.fixture
def torch_threads():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_thread_policy(torch_threads, monkeypatch):
    from imusynth import runtime as device

    torch = torch_threads
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device.os, "cpu_count", lambda: 2)
    torch.set_num_threads(2)
    monkeypatch.setattr(device, "_threads_expected", 2)  # torch's default on two cores
    assert device.apply_thread_policy() == 1 and torch.get_num_threads() == 1
    torch.set_num_threads(2)  # the user's own choice afterwards is kept
    assert device.apply_thread_policy() == 2
    monkeypatch.setattr(device, "_threads_expected", 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # so is a thread count in the environment
    assert device.apply_thread_policy() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(device.os, "cpu_count", lambda: 16)  # larger machines keep torch's
    assert device.apply_thread_policy() == 2


# ----------------------------------------------------------------------------- turing / CSV


def test_answer_key_escapes_formulas_and_scoring_still_matches(tmp_path):
    from imusynth.evaluation.turing import make_sheet, read_key, score_answers

    ws = dataclasses.replace(_windows(), classes=("=cmd|' /C calc'!A0", "-<b>x</b>"))
    out = tmp_path / "sheet"
    make_sheet(ws, ws, 4, out)
    with (out / "answer_key.csv").open(newline="") as fh:
        raw = list(csv.reader(fh))
    cells = [row[2] for row in raw[1:]]
    assert cells and all(c.startswith("'") for c in cells), cells
    assert {r["class"] for r in read_key(out)} <= set(ws.classes)
    page = (out / "sheet.html").read_text()
    assert "-<b>x</b>" not in page and "-&lt;b&gt;x&lt;/b&gt;" in page
    key = read_key(out)
    answers = tmp_path / "a.csv"
    with answers.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["reader", "item", "origin", "class"])
        for row in key:
            w.writerow(["'=R", row["item"], row["origin"], "'" + row["class"]])
    score = score_answers(out, answers)
    assert score.class_all == 1.0 and score.real_vs_synthetic == 1.0 and score.reader == "=R"


def test_failed_turing_make_leaves_no_folder(tmp_path, monkeypatch):
    from imusynth.evaluation import turing

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(turing, "_render", boom)
    ws = _windows()
    with pytest.raises(OSError):
        turing.make_sheet(ws, ws, 4, tmp_path / "sheet")
    assert not (tmp_path / "sheet").exists()


def test_experiment_prints_the_headline_not_the_whole_summary():
    from imusynth.cli.experiment import _headline

    md = "# exp\n\nnote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## per class\n\n| x |\n"
    assert _headline(md) == "# exp\n\nnote\n\n| a | b |\n|---|---|\n| 1 | 2 |"


def test_every_command_takes_its_summary_and_description_from_its_function():
    import inspect

    from imusynth.cli import build_parser

    commands = 0
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                func = sub.get_default("func")
                if func is None:  # a group: its commands are checked in their turn
                    continue
                first, _, rest = inspect.cleandoc(func.__doc__).partition("\n")
                assert summaries[name] == first != "", f"{sub.prog}: its line in --help"
                assert sub.description == " ".join(rest.split()) != "", f"{sub.prog} description"
                commands += 1
    assert commands > 10

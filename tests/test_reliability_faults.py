"""Fault injection: runs and experiments killed, cut short or raced end as if undisturbed,
or with a clear refusal.

Kills are SIGKILLs of a real ``python -m imusynth train``-like process (the CLI's ``main``
with a hook that kills the process at a chosen step), so nothing of the dying process
cleans up after it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from imusynth.data import write_windows
from imusynth.errors import ConfigError, ImusynthError, LockError
from imusynth.experiments import load_experiment, run_experiment, summarise
from imusynth.gan import load_run, sample_run
from imusynth.locks import LOCK_NAME, folder_lock, read_lock
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.loop import CHECKPOINT_NAME, METRICS_NAME

from .conftest import ROOT, tiny_window_set
from .test_runner import _config, _rows, _windows

TRAIN = [
    "--device", "cpu", "-q",
    "--set", "train.steps=6",
    "--set", "train.batch_size=8",
    "--set", "train.checkpoint_every=2",
    "--set", "train.log_every=1",
    "--set", "train.sample_every=0",
    "--set", "model.g_width=32",
    "--set", "model.d_width=8",
]  # fmt: skip

# Runs the CLI, killing its own process (SIGKILL: no cleanup at all) at a chosen moment.
KILLER = textwrap.dedent(
    """
    import os, signal, sys, tempfile
    from imusynth.train import loop

    mode, at = sys.argv[1], int(sys.argv[2])
    if mode == "after-row":  # just after the metrics row of step `at` is written
        log_row = loop._log_row

        def hook(state, *args):
            row = log_row(state, *args)
            if state.step == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return row

        loop._log_row = hook
    else:  # while the checkpoint of step `at` is half written to its temporary file
        save = loop.save_checkpoint

        def hook(path, ckpt):
            if ckpt["step"] == at:
                fd, _ = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                os.write(fd, b"half a checkpoint")
                os.kill(os.getpid(), signal.SIGKILL)
            return save(path, ckpt)

        loop.save_checkpoint = hook
    from imusynth.cli import main

    sys.exit(main(sys.argv[3:]))
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _killed_train(mode: str, at: int, data, run) -> None:
    args = [sys.executable, "-c", KILLER, mode, str(at), "train", "--data", data, "--out", run]
    proc = subprocess.run([str(a) for a in [*args, *TRAIN]], env=_env(), capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """conftest's ``tiny_windows`` (3 subjects x 2 classes x 4 windows) as a file."""
    ws = tiny_window_set()
    return write_windows(tmp_path_factory.mktemp("data") / "w.h5", ws)


@pytest.fixture(scope="module")
def undisturbed(data, tmp_path_factory):
    """The run folder of the same training, never interrupted."""
    from imusynth.cli import main

    run = tmp_path_factory.mktemp("ref") / "run"
    assert main([str(a) for a in ["train", "--data", data, "--out", run, *TRAIN]]) == 0
    return run


def _assert_same_run(run, ref) -> None:
    """Same final weights, optimisers, EMA, random states and metrics as ``ref``."""
    a, b = load_checkpoint(run / CHECKPOINT_NAME), load_checkpoint(ref / CHECKPOINT_NAME)
    assert a["step"] == b["step"] == 6
    for key in ("generator", "discriminator", "ema", "opt_g", "opt_d"):
        _assert_equal(a[key], b[key], key)
    for key in ("loop", "numpy"):  # the run's own random streams (torch's global one is
        _assert_equal(a["rng"][key], b["rng"][key], key)  # shared with the test process)
    wa, wb = (sample_run(load_run(r), 3, seed=5)[0] for r in (run, ref))
    np.testing.assert_array_equal(wa, wb)
    ra, rb = _metrics(run), _metrics(ref)
    for row in (*ra, *rb):
        row.pop("steps_per_s")  # the only column that depends on the clock
    assert ra == rb
    assert [r["step"] for r in ra] == ["1", "2", "3", "4", "5", "6"]  # never "10.0"
    assert not list(run.glob(".*.tmp")) and not (run / LOCK_NAME).exists()


def _assert_equal(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _metrics(run) -> list[dict[str, str]]:
    with open(run / METRICS_NAME, newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- kill -9


def test_kill_before_the_first_checkpoint_then_resume_starts_over(
    run_cli, data, undisturbed, tmp_path, caplog
):
    run = tmp_path / "run"
    _killed_train("after-row", 1, data, run)
    assert not (run / CHECKPOINT_NAME).exists() and (run / METRICS_NAME).exists()
    owner = read_lock(run)
    assert owner is not None and owner["host"] == socket.gethostname()  # the dead run's lock
    with caplog.at_level(logging.INFO):
        code, _, err = run_cli("train", "--data", data, "--out", run, "--resume", *TRAIN)
    assert code == 0, err
    assert "stale lock" in caplog.text and "starts from step 0" in caplog.text
    _assert_same_run(run, undisturbed)


def test_kill_mid_checkpoint_write_with_a_cut_metrics_line_then_resume(
    run_cli, data, undisturbed, tmp_path
):
    run = tmp_path / "run"
    _killed_train("checkpoint", 4, data, run)
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 2  # the last good one is intact
    assert len(list(run.glob(f".{CHECKPOINT_NAME}.*.tmp"))) == 1
    text = (run / METRICS_NAME).read_text()
    (run / METRICS_NAME).write_text(text[:-25])  # a kill in the middle of writing a row
    code, _, err = run_cli("train", "--data", data, "--out", run, "--resume", *TRAIN)
    assert code == 0, err
    _assert_same_run(run, undisturbed)


# ----------------------------------------------------------------------------- writers


@pytest.fixture
def live_holder(tmp_path):
    """A folder whose lock a live process holds, until the test ends."""
    folder = tmp_path / "held"
    folder.mkdir()
    code = (
        "import sys\nfrom imusynth.locks import folder_lock\n"
        f"with folder_lock({str(folder)!r}):\n"
        "    print('locked', flush=True)\n    sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"locked"
        yield folder, proc.pid
    finally:
        proc.stdin.close()  # the holder reads EOF, leaves its with block and exits
        proc.wait(timeout=30)
        proc.stdout.close()


def test_a_lock_held_by_a_live_process_is_refused(run_cli, data, live_holder, tmp_path):
    folder, pid = live_holder
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = run_cli("train", "--data", data, "--out", folder, "--resume", *TRAIN)
    assert code == 2
    line = _one_line(err)
    assert str(folder) in line and "in use" in line and str(pid) in line
    ws = _windows()
    cfg = load_experiment(_config(tmp_path, arms=["real"]))
    with pytest.raises(LockError, match="in use"):
        run_experiment(cfg, folder, windows=ws)
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written
    # Within one process, a second thread is refused too.
    with folder_lock(tmp_path) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with folder_lock(tmp_path):  # the same thread: re-entrant
            pass
        assert lock.exists()
    assert not lock.exists()


def test_a_stale_lock_is_taken_over_and_a_foreign_host_refused(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING, logger="imusynth.locks"):
        with folder_lock(tmp_path):
            assert read_lock(tmp_path)["pid"] == os.getpid()
    assert f"stale lock of process {dead.pid}" in caplog.text
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(LockError, match=r"elsewhere\.example") as info:
        with folder_lock(tmp_path):
            pass
    assert info.value.path == str(tmp_path)
    (tmp_path / LOCK_NAME).write_text("")  # its writer died before writing: stale
    with folder_lock(tmp_path):
        pass


# ----------------------------------------------------------------------------- results.csv


def _experiment(tmp_path):
    return load_experiment(_config(tmp_path, arms=["real", "classical"])), _windows()


def test_cut_results_row_runs_again_and_summaries_count_each_cell_once(tmp_path, caplog):
    cfg, ws = _experiment(tmp_path)
    out = tmp_path / "res"
    results = run_experiment(cfg, out, windows=ws)
    whole = results.read_text()
    rows = _rows(results)
    assert len(rows) == 4
    # A kill while the last row was written: it must not count as done.
    results.write_text(whole[: -len(whole.splitlines()[-1]) // 2])
    run_experiment(cfg, out, windows=ws)
    assert _rows(results) == rows and results.read_text().endswith("\n")
    # Rows written twice (two writers before locks existed): each cell counts once.
    results.write_text(whole + "".join(whole.splitlines(keepends=True)[1:]))
    with caplog.at_level(logging.WARNING, logger="imusynth.experiments"):
        table = summarise(results, out).read_text()
    assert "repeated row" in caplog.text
    cells = [ln for ln in table.splitlines() if ln.startswith("| all |") and "±" in ln]
    assert cells and all(ln.endswith("| 2 |") for ln in cells)  # 2 folds, not 4
    n_before = len(_rows(results))
    run_experiment(cfg, out, windows=ws)  # nothing to redo, nothing appended
    assert len(_rows(results)) == n_before
    # Only a header and a cut row: nothing to summarise, said in one clear error.
    results.write_text(whole.splitlines(keepends=True)[0] + "0,0,0")
    with pytest.raises(ImusynthError, match="no complete result rows") as info:
        summarise(results, out)
    assert info.value.path == str(results)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace("n_splits = 2", "n_splits = 9"), "n_splits"),
        (lambda t: t.replace("train_subjects = [0]", "train_subjects = [9]"), "train_subjects"),
        (lambda t: t.replace("train_subjects = [0]", "train_subjects = [-1]"), "train_subjects"),
        (lambda t: t.replace("seeds = [0]", 'seeds = ["a"]'), "cv.seeds"),
        (lambda t: t.replace("epochs = 2", "epochs = 0"), "classifier.epochs"),
        (lambda t: t.replace("epochs = 2", "epochs = 2\ncolour = 1"), "classifier"),
        (lambda t: t.replace('"model.d_width=8"', '"train.precision=fp16"'), "train.precision"),
        (lambda t: t.replace('"model.d_width=8"', '"train.lr_g=0"'), "train.lr_g"),
        (lambda t: t + "[augment]\njitter = 'x'\n", "augment.jitter"),
        (lambda t: t + '[rebalance]\nclasses = ["Z"]\n', "rebalance.classes"),
    ],
)
def test_bad_experiments_write_nothing(tmp_path, edit, field):
    arms = ["real", "classical", "cgan:conv1d"]
    kind = "rebalancing" if "rebalance" in field else "augmentation"
    path = _config(tmp_path, kind=kind, arms=["none", "smote"] if kind == "rebalancing" else arms)
    path.write_text(edit(path.read_text()))
    out = tmp_path / "res"
    with pytest.raises(ImusynthError) as info:
        run_experiment(load_experiment(path), out, windows=_windows())
    assert field in (info.value.field or "")
    assert not out.exists()


def test_train_refused_before_the_run_folder_is_made(run_cli, data, tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli(
        "train", "--data", data, "--out", run, *TRAIN, "--set", "train.precision=fp16"
    )
    assert code == 2 and "train.precision" in _one_line(err)
    assert not run.exists()


def test_corrupt_checkpoint_error_names_the_file_and_never_advises_unsafe_loading(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ImusynthError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "corrupt" in str(info.value)
    assert "weights_only" not in str(info.value)
    assert not isinstance(info.value, ConfigError)

"""The pipeline commands end to end on tiny data: simulate, ik, train, sample, balance,
evaluate, experiment --help, demo; and their user errors (exit 2, one line, no output)."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from imusynth.data import read_windows, write_windows

TINY_GAN = [
    "--set",
    "train.steps=3",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.checkpoint_every=0",
    "--set",
    "model.g_width=32",
    "--set",
    "model.d_width=8",
]


@pytest.fixture
def windows_file(tmp_path, tiny_windows):
    return write_windows(tmp_path / "w.h5", tiny_windows)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_train_sample_balance(run_cli, tmp_path, windows_file, tiny_windows):
    run = tmp_path / "run"
    code, _, err = run_cli(
        "train", "--data", windows_file, "--out", run, *TINY_GAN, "--device", "cpu", "-q"
    )
    assert code == 0, err
    assert (run / "config.toml").exists() and any(run.glob("*.pt"))
    # an existing run folder is not overwritten without --resume
    code, _, err = run_cli("train", "--data", windows_file, "--out", run, *TINY_GAN)
    assert code == 2 and "--resume" in _one_line(err)

    out_file = tmp_path / "s.h5"
    code, out, err = run_cli(
        "sample", run, "--per-class", "5", "--classes", "FEL", "--out", out_file, "--seed", "3"
    )
    assert code == 0, err
    assert out.splitlines() == [f"wrote 5 synthetic windows (5 per class: FEL) to {out_file}"]
    synth = read_windows(out_file)
    assert synth.class_counts() == {"ABD": 0, "FEL": 5} and synth.is_synthetic.all()
    assert synth.X.shape[1:] == tiny_windows.X.shape[1:]
    # same seed, same windows
    again = tmp_path / "s2.h5"
    run_cli("sample", run, "--per-class", "5", "--classes", "FEL", "--out", again, "--seed", "3")
    np.testing.assert_array_equal(read_windows(again).X, synth.X)

    unbalanced = tiny_windows.subset(np.r_[np.flatnonzero(tiny_windows.y == 0), [4, 5]])
    src = write_windows(tmp_path / "unbalanced.h5", unbalanced)
    bal = tmp_path / "b.h5"
    code, out, err = run_cli("balance", src, "--run", run, "--out", bal)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"wrote 24 windows (10 synthetic) to {bal}"
    per_class = [line.split() for line in lines[1:]]
    assert per_class == [["ABD", "12", "->", "12"], ["FEL", "2", "->", "12"]]
    b = read_windows(bal)
    assert b.class_counts() == {"ABD": 12, "FEL": 12}
    np.testing.assert_array_equal(b.X[: len(unbalanced)], unbalanced.X)  # real rows unchanged
    assert b.is_synthetic.sum() == 10 and not b.is_synthetic[: len(unbalanced)].any()


def test_bad_config_and_checkpoint(run_cli, tmp_path, windows_file):
    code, _, err = run_cli(
        "train", "--data", windows_file, "--out", tmp_path / "r", "--set", "model.colour=red"
    )
    assert code == 2 and "model.colour" in _one_line(err)
    bad = tmp_path / "cfg.toml"
    bad.write_text("[train]\nsteps = 'many'\n")
    code, _, err = run_cli(
        "train", "--config", bad, "--data", windows_file, "--out", tmp_path / "r2"
    )
    assert code == 2 and "train.steps" in _one_line(err)
    run = tmp_path / "broken"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"garbage")
    out = tmp_path / "s.h5"
    code, _, err = run_cli("sample", run, "--per-class", "2", "--out", out)
    assert code == 2 and "broken" in _one_line(err) and not out.exists()


def test_simulate_and_ik(run_cli, tmp_path):
    sim = tmp_path / "sim.h5"
    code, out, err = run_cli(
        "simulate",
        "--exercise",
        "ABD",
        "--n",
        "3",
        "--subjects",
        "2",
        "--length",
        "100",
        "--out",
        sim,
    )
    assert code == 0, err
    assert out.strip() == (
        f"wrote 3 simulated windows (3 per exercise: ABD; 2 subjects) with joint angles to {sim}"
    )
    ws = read_windows(sim)
    assert ws.X.shape == (3, 6, 100) and ws.joint_angles is not None
    with h5py.File(sim, "r") as f:  # the watch mounting of every window, beside the windows
        assert f["mount"].shape == (3, 3) and f["mount"].dtype == np.float32
    assert ws.classes == ("ABD",) and ws.units == ("g",) * 3 + ("rad/s",) * 3
    code, _, err = run_cli("simulate", "--exercise", "SWIM", "--out", tmp_path / "x.h5")
    assert code == 2 and "--exercise" in _one_line(err)
    ik = tmp_path / "ik.h5"
    code, out, err = run_cli("ik", sim, "--out", ik, "--steps", "30")
    assert code == 0, err
    fitted = read_windows(ik)
    assert fitted.joint_angles.shape[0] == 3 and "median R²" in out


def test_evaluate_refuses_shared_subjects(run_cli, tmp_path, tiny_windows):
    train = write_windows(tmp_path / "train.h5", tiny_windows.subset(tiny_windows.groups != "3"))
    test = write_windows(tmp_path / "test.h5", tiny_windows.subset(tiny_windows.groups != "1"))
    out = tmp_path / "report"
    code, _, err = run_cli(
        "evaluate", "--train", train, "--test", test, "--synthetic", train, "--out", out
    )
    assert code == 2 and "2" in _one_line(err) and "share" in err
    assert not (out / "metrics.json").exists()


def test_demo_runs_tiny(run_cli, tmp_path):
    code, out, err = run_cli(
        "demo",
        "--out",
        tmp_path / "demo",
        "--device",
        "cpu",
        "--set",
        "train.steps=2",
        "--set",
        "train.checkpoint_every=0",
    )
    assert code == 0, err
    assert "[3/3] balanced" in out
    balanced = read_windows(tmp_path / "demo" / "balanced.h5")
    counts = set(balanced.class_counts().values())
    assert len(counts) == 1  # every exercise topped up to the largest
    assert any((tmp_path / "demo" / "run").glob("*.png"))


def test_sample_writes_the_units_the_data_came_in(run_cli, tmp_path, tiny_windows):
    user = tiny_windows.in_units(["m/s^2"] * 3 + ["deg/s"] * 3)
    user = dataclasses.replace(user, source_units=None)  # as a user's own file holds them
    src = write_windows(tmp_path / "user.h5", user)
    run = tmp_path / "run"
    code, _, err = run_cli(
        "train", "--data", src, "--out", run, *TINY_GAN, "--set", "model.generator=conv1d", "-q"
    )
    assert code == 0, err
    out_file = tmp_path / "s.h5"
    code, out, err = run_cli("sample", "--run", run, "--per-class", "4", "--out", out_file)
    assert code == 0, err
    assert out.strip().endswith(f"in m/s^2, deg/s to {out_file}")
    with h5py.File(out_file, "r") as f:
        assert [str(u) for u in f.attrs["units"]] == ["m/s^2"] * 3 + ["deg/s"] * 3
        raw = f["X"][:]
    internal = read_windows(out_file)  # read back in g and rad/s, as everything works in
    assert internal.units == ("g",) * 3 + ("rad/s",) * 3
    np.testing.assert_allclose(raw[:, :3], internal.X[:, :3] * 9.80665, rtol=1e-5)
    np.testing.assert_allclose(raw[:, 3:], np.degrees(internal.X[:, 3:]), rtol=1e-5)

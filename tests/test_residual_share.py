"""The kinematic generator's residual share: measured, logged to metrics.csv, warned about,
and reported by evaluate."""

from __future__ import annotations

import csv
import dataclasses
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from imusynth.evaluation.report import summary_rows
from imusynth.gan import load_run, sample, train_run
from imusynth.gan.residual import (
    RESIDUAL_COLUMNS,
    ResidualShareCallback,
    residual_share_of_run,
)
from imusynth.models.kinematic import RESIDUAL_SHARE_BOUND, KinematicGenerator
from imusynth.runtime import seeded
from imusynth.train.config import load_config
from imusynth.train.metrics_log import log_row, read_metrics
from tests.conftest import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "train.steps=4",
    "train.batch_size=8",
    "train.log_every=2",
    "train.checkpoint_every=0",
]


def _generator(residual_gain: float | None) -> KinematicGenerator:
    with seeded(0):  # the same weights whatever ran before (the test order, a fresh clone)
        g = KinematicGenerator(6, 32, 2, width=32, n_blocks=2, residual=residual_gain is not None)
    if residual_gain is not None:
        with torch.no_grad():
            g.residual_head.weight.mul_(residual_gain)
            g.residual_head.bias.fill_(residual_gain * 0.1)
    return g


def test_residual_share_measures_the_residual_against_the_output():
    assert _generator(None).residual_share(n=8) == {"accel": 0.0, "gyro": 0.0}
    small, large = _generator(1.0).residual_share(n=8), _generator(500.0).residual_share(n=8)
    assert 0 < small["accel"] < 0.01 and 0 < small["gyro"] < 0.01
    assert large["accel"] > RESIDUAL_SHARE_BOUND and large["gyro"] > RESIDUAL_SHARE_BOUND
    # Seeded: the same windows every time.
    g = _generator(3.0)
    assert g.residual_share(n=8, seed=1) == g.residual_share(n=8, seed=1)


def _state(G, step: int, steps: int):
    return SimpleNamespace(ema=G, step=step, config=SimpleNamespace(steps=steps))


def test_the_callback_warns_in_the_second_half_and_at_the_end(caplog):
    caplog.set_level(logging.WARNING, "imusynth.gan.residual")
    cb = ResidualShareCallback(n=8)
    G = _generator(500.0)
    row = cb.log_columns(_state(G, 10, 100))  # first half: the arm is still being fitted
    assert set(row) == set(RESIDUAL_COLUMNS.values()) and not caplog.records
    assert row["residual_share_accel"] == pytest.approx(G.residual_share(8)["accel"])
    cb.log_columns(_state(G, 50, 100))
    cb.log_columns(_state(G, 60, 100))  # once during training
    assert len(caplog.records) == 1 and "bypassed" in caplog.records[0].message
    assert "step 50" in caplog.records[0].message
    cb.on_end(_state(G, 100, 100))
    assert len(caplog.records) == 2 and "end of training" in caplog.records[1].message
    assert G.training  # put back as it was

    caplog.clear()
    quiet = ResidualShareCallback(n=8)
    quiet.log_columns(_state(_generator(1.0), 100, 100))
    quiet.on_end(_state(_generator(1.0), 100, 100))
    assert not caplog.records


def test_training_writes_the_share_to_metrics_csv_and_evaluate_reports_it(tmp_path, tiny_windows):
    run_dir = tmp_path / "run"
    cfg = load_config(None, ["model.generator=kinematic", *TINY])
    run = train_run(cfg, tiny_windows, run_dir, device="cpu", plots=False)
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4]
    for r in rows:
        assert all(np.isfinite(float(r[c])) for c in RESIDUAL_COLUMNS.values())
    # The last row measured the generator that is sampled (the EMA), with the run's seed.
    share = run.generator.residual_share(128, cfg.train.seed)
    assert residual_share_of_run(run_dir) == pytest.approx(share)
    # evaluate finds the run through the synthetic set's source and prints the share.
    fake = sample(load_run(run_dir), 2, seed=0)
    assert fake.source == f"gan:{run_dir}"
    from imusynth.evaluation.evaluate import _residual_share

    assert _residual_share(fake) == pytest.approx(share)
    # ... and through the source `imusynth sample` writes into its files
    assert _residual_share(dataclasses.replace(fake, source=f"run:{run_dir}")) == pytest.approx(
        share
    )
    rows = {name: (value, ref) for name, value, ref in summary_rows({"residual_share": share})}
    value, ref = rows["residual share (kinematic generator)"]
    assert value == f"accel {share['accel']:.2f}, gyro {share['gyro']:.2f}"
    assert f"{RESIDUAL_SHARE_BOUND:.2f}" in ref


def test_other_runs_have_no_share(tmp_path, tiny_windows):
    run_dir = tmp_path / "run"
    train_run(load_config(None, TINY), tiny_windows, run_dir, device="cpu", plots=False)
    assert residual_share_of_run(run_dir) is None
    assert residual_share_of_run(tmp_path / "nowhere") is None
    assert not [r for r in summary_rows({"residual_share": None}) if "residual" in r[0]]


def test_extra_columns_join_the_row_and_an_older_file_keeps_its_header(tmp_path):
    state = SimpleNamespace(step=2, epoch=0, history=[], out_dir=tmp_path, config=None)
    means = torch.arange(8, dtype=torch.float32)
    row = log_row(state, means, 1.0, 0.0, None, {"residual_share_accel": 0.5})
    assert row["residual_share_accel"] == 0.5 and state.history == [row]
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[-1] == "residual_share_accel"
    # A run begun before the column existed (resumed with a newer version) keeps its columns.
    old = tmp_path / "old"
    old.mkdir()
    state.out_dir, state.step = old, 4
    (old / "metrics.csv").write_text(",".join(header[:-1]) + "\n")
    log_row(state, means, 1.0, 0.0, None, {"residual_share_accel": 0.5})
    rows = read_metrics(old / "metrics.csv", 10)
    assert len(rows) == 1 and "residual_share_accel" not in rows[0]


def test_a_run_with_checkpoint_selection_reports_the_chosen_step(tmp_path):
    accel, gyro = RESIDUAL_COLUMNS["accel"], RESIDUAL_COLUMNS["gyro"]
    (tmp_path / "metrics.csv").write_text(
        f"step,d_loss,{accel},{gyro}\n2,0.5,0.10,0.01\n4,0.4,0.30,0.03\n"
    )
    (tmp_path / "selection.csv").write_text(
        "step,tstr_f1,disc,score\n2,0.8,0.1,0.7\n4,0.6,0.2,0.4\n"
    )
    assert residual_share_of_run(tmp_path) == {"accel": 0.30, "gyro": 0.03}  # no best.pt
    (tmp_path / "best.pt").write_bytes(b"")
    assert residual_share_of_run(tmp_path) == {"accel": 0.10, "gyro": 0.01}

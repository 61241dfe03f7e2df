"""Checkpoint selection on validation subjects held out of the GAN's training data."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging

import numpy as np
import pytest
import torch

from imusynth.data import concatenate
from imusynth.data.normalize import ChannelNormalizer
from imusynth.errors import ConfigError
from imusynth.gan import load_run, sample, train_run
from imusynth.gan.selection import BEST_NAME, SELECTION_NAME, ValidationSelector
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME
from tests.conftest import TINY_MODEL, tiny_window_set

TINY = [
    *TINY_MODEL,
    "train.steps=4",
    "train.batch_size=8",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "train.select_every=2",
    "train.val_subjects=2",
]


@pytest.fixture
def six_subjects(tiny_windows):
    """The tiny set and a shifted copy of it as three more subjects: 6 subjects."""

    more = tiny_window_set(shift=0.1)
    more = dataclasses.replace(more, groups=np.char.add("b", more.groups.astype(str)))
    return concatenate([tiny_windows, more])


def _rows(run_dir):
    with (run_dir / SELECTION_NAME).open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_selection_holds_subjects_out_and_samples_the_best_snapshot(tmp_path, six_subjects):
    out = tmp_path / "run"
    run = train_run(load_config(None, TINY), six_subjects, out, device="cpu", plots=False)
    val = set(run.validation_subjects)
    assert len(val) == 2 and val < set(six_subjects.groups)
    train_part = six_subjects.subset(~np.isin(six_subjects.groups, list(val)))
    assert len(set(train_part.groups)) == 4
    # The normaliser, like the GAN, saw the training subjects only.
    expected = ChannelNormalizer().fit(train_part.X)
    assert np.allclose(run.normalizer.mean_, expected.mean_, atol=1e-5)
    meta = json.loads((out / "run.json").read_text())
    assert sorted(meta["validation_subjects"]) == sorted(val)

    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == [2, 4]
    for r in rows:
        assert 0.0 <= float(r["tstr_f1"]) <= 1.0 and 0.0 <= float(r["disc"]) <= 0.5
        assert float(r["score"]) == pytest.approx(float(r["tstr_f1"]) - float(r["disc"]))
    best = max(rows, key=lambda r: float(r["score"]))  # the first of equal scores
    assert run.step == int(best["step"])
    assert load_checkpoint(out / BEST_NAME)["step"] == run.step
    assert load_checkpoint(out / CHECKPOINT_NAME)["step"] == 4  # resuming continues from here

    # The loaded run samples the chosen snapshot, as the trained one does.
    loaded = load_run(out)
    assert loaded.step == run.step
    assert loaded.validation_subjects == run.validation_subjects  # what reports name
    a = sample(run, {"ABD": 3, "FEL": 3}, seed=5).X
    b = sample(loaded, {"ABD": 3, "FEL": 3}, seed=5).X
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_resumed_run_keeps_the_scores_it_had(tmp_path, six_subjects):
    out = tmp_path / "run"
    train_run(load_config(None, TINY), six_subjects, out, device="cpu", plots=False)
    assert not (out / "selection.png").exists()
    cfg = load_config(None, [*TINY, "train.steps=6"])
    run = train_run(cfg, six_subjects, out, resume=True, device="cpu", plots=True)
    assert (out / "selection.png").stat().st_size > 0
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert run.step == int(max(rows, key=lambda r: float(r["score"]))["step"])
    # Loaded, it is the run of 6 steps, whichever step was chosen (best.pt may be older).
    loaded = load_run(out)
    assert loaded.config.train.steps == 6 and loaded.step == run.step
    assert loaded.validation_subjects == run.validation_subjects != ()


def test_selector_drops_scores_after_the_resumed_step(tmp_path, six_subjects):
    sel = ValidationSelector(
        six_subjects, lambda G, codes, seed: None, every=2, total_steps=6, out_dir=tmp_path
    )
    sel.rows = [
        {"step": 2.0, "tstr_f1": 0.5, "disc": 0.1, "score": 0.4},
        {"step": 4.0, "tstr_f1": 0.9, "disc": 0.1, "score": 0.8},
    ]
    sel._write_rows()
    torch.save({"step": 2}, tmp_path / BEST_NAME)
    again = ValidationSelector(
        six_subjects, lambda G, codes, seed: None, every=2, total_steps=6, out_dir=tmp_path
    )
    again.resume_from(3)  # the run was killed after step 4's score, before its checkpoint
    assert [r["step"] for r in again.rows] == [2.0]
    assert again.best_step == 2 and again.best_score == pytest.approx(0.4)
    assert [int(r["step"]) for r in _rows(tmp_path)] == [2]


def test_data_too_small_for_selection_train_on_every_subject(tmp_path, tiny_windows, caplog):
    # 3 subjects: holding 2 out would leave the GAN fewer than MIN_GAN_SUBJECTS.
    with caplog.at_level(logging.WARNING, logger="imusynth.gan.windows"):
        run = train_run(
            load_config(None, TINY), tiny_windows, tmp_path / "run", device="cpu", plots=False
        )
    assert "checkpoint selection is off" in caplog.text
    assert run.validation_subjects == () and run.step == 4
    assert not (tmp_path / "run" / BEST_NAME).exists()
    expected = ChannelNormalizer().fit(tiny_windows.X)  # every subject trained the GAN
    assert np.allclose(run.normalizer.mean_, expected.mean_, atol=1e-5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["train.select_metric=best"], "train.select_metric"),
        (["train.val_subjects=1"], "train.val_subjects"),  # the judge needs two
        (["train.select_every=-1"], "train.select_every"),
    ],
)
def test_bad_selection_settings_are_config_errors(overrides, field):
    with pytest.raises(ConfigError) as info:
        load_config(None, [*TINY, *overrides])
    assert info.value.field == field


def test_one_validation_subject_is_enough_for_tstr_alone():
    cfg = load_config(None, [*TINY, "train.val_subjects=1", "train.select_metric=tstr"])
    assert cfg.train.val_subjects == 1


def test_the_final_figure_shows_the_chosen_snapshot(tmp_path, six_subjects, monkeypatch):
    import imusynth.plots.gan as plots_gan

    titles = []
    monkeypatch.setattr(
        plots_gan, "plot_real_vs_synthetic", lambda *a, title, **k: titles.append(title)
    )
    run = train_run(load_config(None, TINY), six_subjects, tmp_path / "run", device="cpu")
    assert titles[-1] == f"step {run.step}"  # drawn again after the choice

"""Checkpoint selection on validation subjects held out of a window GAN's training data.

A GAN's losses do not say when its samples are best, and the test subjects must not say it
either (a study that picks the step on them reports a number it tuned). With
``train.select_every > 0`` the window modality holds ``train.val_subjects`` of the training
subjects out of the GAN's training data (drawn with :func:`~imusynth.data.splits.
split_by_subject`, every class on both sides), and :class:`ValidationSelector` scores the
EMA generator on them every ``select_every`` steps and at the last step:

* ``tstr``: macro-F1 on the validation subjects' real windows of a random forest on window
  features trained on synthetic windows only (train on synthetic, test on real);
* ``disc``: the subject-held-out discriminative score
  (:func:`~imusynth.metrics.judges.heldout_discriminative_score`) of real validation windows
  against synthetic ones, 0 = indistinguishable, 0.5 = always told apart.

``train.select_metric`` picks the snapshot: ``tstr-disc`` (default: ``tstr - disc``, useful
and realistic), ``tstr`` or ``disc``. The run then samples from the best snapshot: its EMA
weights are the run's generator, ``best.pt`` holds its checkpoint and ``selection.csv`` every
score (``checkpoint.pt`` stays the last step, for resuming).
"""

from __future__ import annotations

import copy
import csv
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from torch import nn

from imusynth.data import WindowSet
from imusynth.data.store import atomic_path
from imusynth.metrics.judges import heldout_discriminative_score
from imusynth.models.features import FeatureRandomForest
from imusynth.train.callbacks import Callback
from imusynth.train.checkpoint import save_checkpoint
from imusynth.train.state import GANTrainingState

__all__ = [
    "BEST_NAME",
    "SELECTION_NAME",
    "ValidationSelector",
    "best_row",
    "chosen_step",
    "read_scores",
    "selection_score",
]

log = logging.getLogger(__name__)

BEST_NAME = "best.pt"
SELECTION_NAME = "selection.csv"
_FIELDS = ("step", "tstr_f1", "disc", "score")
_TREES = 100  # the forests of one scoring; scored a few times a run, so kept small


def selection_score(metric: str, tstr_f1: float, disc: float) -> float:
    """The number a snapshot is chosen by: higher is better.

    >>> selection_score("tstr-disc", 0.7, 0.3), selection_score("disc", 0.7, 0.3)
    (0.39999999999999997, -0.3)
    """
    if metric == "tstr":
        return tstr_f1
    if metric == "disc":
        return -disc
    return tstr_f1 - disc


@dataclass(repr=False, eq=False)
class ValidationSelector(Callback):
    """Score the EMA generator on validation subjects and keep the best snapshot.

    Parameters
    ----------
    val : WindowSet
        Real windows of the validation subjects (physical units, at least two subjects
        unless ``metric="tstr"``).
    sample : callable
        ``sample(generator, codes, seed) -> X`` synthetic windows in physical units for
        class codes ``codes`` from the given (EMA) generator.
    every : int
        Steps between scores; the last step is always scored.
    total_steps : int
    metric : {"tstr-disc", "tstr", "disc"}
    out_dir : Path, optional
        Where ``selection.csv`` and ``best.pt`` go; ``None`` keeps the best in memory only.
    seed : int
        Latent points and judges (the same at every scoring, so snapshots are comparable).
    resume : bool
        The run resumes in ``out_dir``: the scores written up to the resumed step are read
        back at the first step.

    Attributes
    ----------
    rows : list of dict
        The scores so far, one row a scoring (``step``, ``tstr_f1``, ``disc``, ``score``).
    best_step, best_score : int or None, float
        The best snapshot so far (``None`` and ``-inf`` before the first scoring).
    best_checkpoint : dict or None
        Its checkpoint.
    """

    val: WindowSet
    sample: Callable[[nn.Module, np.ndarray, int], np.ndarray]
    _: KW_ONLY
    every: int
    total_steps: int
    metric: str = "tstr-disc"
    out_dir: Path | None = None
    seed: int = 0
    resume: bool = False
    rows: list[dict[str, float]] = field(default_factory=list, init=False)
    best_step: int | None = field(default=None, init=False)
    best_score: float = field(default=-np.inf, init=False)
    best_checkpoint: dict[str, Any] | None = field(default=None, init=False)

    # -- resuming ------------------------------------------------------------------------
    def resume_from(self, step: int) -> None:
        """Read the scores of a run resumed at ``step`` (rows after it are dropped)."""
        if self.out_dir is None or not (self.out_dir / SELECTION_NAME).exists():
            return
        self.rows = [r for r in read_scores(self.out_dir) if r["step"] <= step]
        self._write_rows()
        if self.rows and (self.out_dir / BEST_NAME).exists():
            best = best_row(self.rows)
            self.best_step, self.best_score = int(best["step"]), best["score"]

    # -- the hook ------------------------------------------------------------------------
    def on_step(self, state: GANTrainingState) -> None:
        if self.resume:  # the first step after a resume: state.step - 1 was restored
            self.resume = False
            self.resume_from(state.step - 1)
        if state.step % self.every and state.step != self.total_steps:
            return
        if self.rows and self.rows[-1]["step"] >= state.step:
            return
        tstr, disc = self.score(state.ema)
        score = selection_score(self.metric, tstr, disc)
        row = {"step": float(state.step), "tstr_f1": tstr, "disc": disc, "score": score}
        self.rows.append(row)
        best = score > self.best_score
        log.info(
            "validation subjects, step %d: TSTR macro-F1 %.3f, held-out judge %.3f%s",
            state.step,
            tstr,
            disc,
            " (best so far)" if best else "",
        )
        if best:
            self.best_step, self.best_score = state.step, score
            self.best_checkpoint = copy.deepcopy(state.checkpoint())
            if self.out_dir is not None:
                save_checkpoint(self.out_dir / BEST_NAME, self.best_checkpoint)
        self._write_rows()

    def score(self, generator: nn.Module) -> tuple[float, float]:
        """``(tstr_f1, disc)`` of ``generator`` on the validation subjects."""
        val = self.val
        X = self.sample(generator, val.y, self.seed)  # one synthetic window per real one
        labels = np.arange(val.n_classes)
        forest = FeatureRandomForest(_TREES, random_state=self.seed).fit(X, val.y)
        tstr = float(f1_score(val.y, forest.predict(val.X), labels=labels, average="macro"))
        if self.metric == "tstr":
            return tstr, float("nan")
        judge = heldout_discriminative_score(
            val.X, val.groups, X, y_real=val.y, y_fake=val.y, n_repeats=2, seed=self.seed
        )
        return tstr, judge.mean

    # -- files ---------------------------------------------------------------------------
    def _write_rows(self) -> None:
        if self.out_dir is None:
            return
        with atomic_path(self.out_dir / SELECTION_NAME) as tmp:
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=_FIELDS)
                w.writeheader()
                for r in self.rows:
                    w.writerow({**r, "step": int(r["step"])})


def read_scores(run_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's ``selection.csv`` (``step``, ``tstr_f1``, ``disc``, ``score``);
    ``[]`` when it has none or the file cannot be read as numbers."""
    path = Path(run_dir) / SELECTION_NAME
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            return [{k: float(r[k]) for k in _FIELDS} for r in csv.DictReader(fh)]
    except (KeyError, TypeError, ValueError):
        return []


def best_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """The chosen row: the best score, the earliest of equal ones (as the selector keeps)."""
    return max(rows, key=lambda r: r["score"])


def chosen_step(run_dir: Path) -> int | None:
    """The step a finished run with checkpoint selection samples (its ``best.pt``), read
    from ``selection.csv``; ``None`` for a run without selection."""
    rows = read_scores(run_dir)
    if not rows or not (Path(run_dir) / BEST_NAME).is_file():
        return None
    return int(best_row(rows)["step"])

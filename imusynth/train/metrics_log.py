"""The metrics of a GAN run: ``metrics.csv`` rows, their NaN guard, and reading them back.

The loop sums its losses on the device and hands the means to :func:`log_row` once per
``log_every`` steps (the one host-device sync of a log period); a non-finite value there, or
in the weights before a checkpoint (:func:`check_finite_weights`), ends the run with a
:class:`DivergenceError`. On resume, :func:`read_metrics` keeps the rows up to the
checkpoint's step.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from imusynth.errors import ImusynthError

if TYPE_CHECKING:
    from imusynth.train.state import GANTrainingState

__all__ = [
    "METRICS_NAME",
    "STATS",
    "DivergenceError",
    "check_finite_weights",
    "diverged",
    "log_row",
    "read_metrics",
]

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.csv"  # in a run folder
# What the loop accumulates on the device between log steps (one sync per log step).
STATS = ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty", "ac_d", "ac_g", "g_penalty")


class DivergenceError(ImusynthError):
    """Training produced a NaN or Inf loss or weight; the last good checkpoint is kept."""


def _metric_value(key: str | None, value: str | None) -> float:
    if key is None or value is None:  # more or fewer fields than the header
        raise ValueError("wrong number of fields")
    # Counts stay integers, as log_row writes them ("10", not "10.0").
    return int(value) if key in ("step", "epoch") else float(value)


def log_row(
    state: GANTrainingState,
    means: Tensor,
    steps_per_s: float,
    sigma: float,
    last_good,
    extra: dict[str, float] | None = None,
) -> dict[str, float]:
    """Append the row of ``means`` (and ``extra`` columns, from callbacks) to the history
    and to ``metrics.csv``; a file begun without some columns (a resumed older run) keeps
    its own header."""
    values = means.tolist()  # the one host-device sync of a log period
    row: dict[str, float] = {"step": state.step, "epoch": state.epoch}
    row.update(zip(STATS, values, strict=True))
    row["noise_std"] = sigma
    row["steps_per_s"] = steps_per_s
    row.update(extra or {})
    if not all(math.isfinite(v) for v in values):
        bad = ", ".join(
            f"{k}={v}" for k, v in zip(STATS, values, strict=True) if not math.isfinite(v)
        )
        diverged(state, f"non-finite loss by step {state.step} ({bad})", last_good)
    state.history.append(row)
    if state.out_dir is not None:
        path = state.out_dir / METRICS_NAME
        new = not path.exists()
        fields = list(row) if new else _header(path, list(row))
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
    return row


def _header(path: Path, default: list[str]) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), None)
    return header or default


def check_finite_weights(state: GANTrainingState, last_good) -> None:
    params = [*state.generator.parameters(), *state.discriminator.parameters()]
    finite = torch.stack([torch.isfinite(p).all() for p in params]).all()
    if not bool(finite):  # the one host sync of a checkpoint step
        diverged(state, f"non-finite weights at step {state.step}", last_good)


def diverged(state: GANTrainingState, what: str, last_good) -> None:
    keep = f"; the last good checkpoint is kept at {last_good}" if last_good else ""
    fp32 = " or train.precision=fp32" if state.config.precision != "fp32" else ""
    raise DivergenceError(
        f"training diverged: {what}{keep}. Lower train.lr_g / train.lr_d, or use "
        f"train.loss=hinge or a penalty (train.r1_weight){fp32}",
        path=last_good,
        field="train",
    )


def read_metrics(path: Path, upto: int) -> list[dict[str, float]]:
    """Rows of an earlier run up to ``upto``; later rows (after the checkpoint) are dropped.

    A last line without its newline was cut by a kill while it was written: it is dropped
    (even if it parses, a number in it may be cut short), as is any row with missing or
    unreadable values.
    """
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        log.warning("%s: dropping its unfinished last line", path)
        text = text[: text.rfind("\n") + 1]
    rows = []
    for i, r in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append({k: _metric_value(k, v) for k, v in r.items()})
        except (TypeError, ValueError):
            log.warning("%s: line %d is unreadable; dropped", path, i)
    rows = [r for r in rows if r["step"] <= upto]
    if not rows:
        path.unlink()
        return rows
    tmp = path.with_name(f".{path.name}.tmp")
    try:  # a kill while the rows are rewritten leaves the old file whole
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows

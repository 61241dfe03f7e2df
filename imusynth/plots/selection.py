"""How a window GAN scored on its validation subjects during training (checkpoint selection)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from imusynth.plots._text import escape

__all__ = ["plot_selection"]


def plot_selection(
    rows: Sequence[Mapping[str, float]],
    chosen_step: int,
    *,
    subjects: Sequence[str] = (),
    metric: str = "tstr-disc",
    path: str | Path | None = None,
) -> Figure:
    """TSTR macro-F1, held-out judge and the selection score against the step.

    ``rows`` are the scores of :class:`~imusynth.gan.selection.ValidationSelector` (keys
    ``step``, ``tstr_f1``, ``disc``, ``score``); the chosen step is marked. Saved to ``path``
    when given.

    >>> rows = [{"step": 100, "tstr_f1": 0.5, "disc": 0.4, "score": 0.1},
    ...         {"step": 200, "tstr_f1": 0.6, "disc": 0.3, "score": 0.3}]
    >>> len(plot_selection(rows, 200).axes)
    1
    """
    step = np.array([r["step"] for r in rows], dtype=float)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for key, label, style in (
        ("tstr_f1", "TSTR macro-F1 (forest; higher is better)", "o-"),
        ("disc", "held-out judge |acc - 0.5| (lower is better)", "s-"),
        ("score", f"selection score ({metric})", "^--"),
    ):
        values = np.array([r[key] for r in rows], dtype=float)
        if np.isfinite(values).any():
            ax.plot(step, values, style, label=label, markersize=4)
    ax.axvline(chosen_step, color="0.4", linestyle=":", label=f"chosen: step {chosen_step}")
    ax.set_xlabel("training step")
    ax.set_ylabel("score")
    who = f" {', '.join(map(str, subjects))}" if subjects else ""
    ax.set_title(escape(f"EMA generator scored on validation subjects{who}"), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

"""Real vs synthetic windows per class: a plain function of the windows.

During training :class:`imusynth.train.callbacks.SamplePlotCallback` calls
:func:`plot_real_vs_synthetic` (the GAN run code hands it over); this module does not import
the trainer.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imusynth.plots._text import escape

__all__ = ["plot_real_vs_synthetic"]

_COLORS = ("tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple", "tab:brown")
_FAINT = 0.35  # alpha of the windows after the first of each class and kind


def plot_real_vs_synthetic(
    real_X: np.ndarray,
    real_y: np.ndarray,
    fake_X: np.ndarray,
    fake_y: np.ndarray,
    classes: Sequence[str],
    channels: Sequence[str],
    units: Sequence[str] | None = None,
    *,
    n_per_class: int = 2,
    sampling_rate_hz: float = 50.0,
    path: str | Path | None = None,
    title: str = "",
) -> Figure:
    """One row per class; real windows on the left, synthetic on the right.

    Channels that share a unit (e.g. the accelerometer in g, the gyroscope in rad/s) share a
    panel, so each class row has ``2 x n_units`` panels, and the real and synthetic panels of
    a unit in a row share their y-axis. Colours are channels; the first window of each class
    and kind is drawn dark, further ones light (the legend below the panels says so).

    Parameters
    ----------
    real_X, fake_X : ndarray (N, C, T)
        Windows in physical units.
    real_y, fake_y : ndarray (N,)
        Class codes into ``classes``.
    classes, channels, units : sequences of str
    n_per_class : int
        Windows drawn per class and kind.
    path : str or Path, optional
        Save the figure there (PNG, 100 dpi).

    Examples
    --------
    >>> X = np.zeros((4, 6, 50), np.float32); y = np.array([0, 0, 1, 1])
    >>> fig = plot_real_vs_synthetic(X, y, X, y, ["A", "B"], list("abcdef"), ["g"] * 3 + ["r"] * 3)
    >>> len(fig.axes)
    8
    """
    units = list(units) if units is not None else [""] * len(channels)
    groups = list(dict.fromkeys(units))  # unit -> panel, in channel order
    n_rows, n_cols = len(classes), 2 * len(groups)
    fig = Figure(figsize=(3.0 * n_cols, 1.6 * n_rows + 1.2), layout="constrained")
    axes = fig.subplots(max(n_rows, 1), n_cols, squeeze=False, sharex=True)
    # Real and synthetic panels of one unit share their y-axis, so amplitudes compare (shared
    # before drawing: autoscaling then covers the data of both).
    for k in range(n_rows):
        for g in range(len(groups)):
            axes[k, len(groups) + g].sharey(axes[k, g])
    for k, name in enumerate(classes):
        for side, (X, y) in enumerate(((real_X, real_y), (fake_X, fake_y))):
            rows = np.flatnonzero(np.asarray(y) == k)[:n_per_class]
            t = np.arange(X.shape[-1]) / sampling_rate_hz
            for g, unit in enumerate(groups):
                ax = axes[k, side * len(groups) + g]
                chans = [c for c, u in enumerate(units) if u == unit]
                for j, r in enumerate(rows):
                    for c in chans:
                        ax.plot(
                            t,
                            X[r, c],
                            color=_COLORS[c % len(_COLORS)],
                            lw=0.8,
                            alpha=1.0 if j == 0 else _FAINT,
                        )
                if side == 0 and g == 0:
                    ax.set_ylabel(escape(name))
                ax.tick_params(labelsize=7)
    for side, kind in enumerate(("real", "synthetic")):
        for g, unit in enumerate(groups):
            axes[0, side * len(groups) + g].set_title(
                f"{kind} [{escape(unit)}]" if unit else kind, fontsize=9
            )
    for ax in axes[-1]:
        ax.set_xlabel("time [s]", fontsize=8)
    # One legend for the figure: colours are channels, dark and light are the windows.
    handles = [
        Line2D([], [], color=_COLORS[c % len(_COLORS)], lw=1.2, label=escape(ch))
        for c, ch in enumerate(channels)
    ]
    if n_per_class > 1:
        handles += [
            Line2D([], [], color="0.2", lw=1.2, label="first window of a class"),
            Line2D([], [], color="0.2", alpha=_FAINT, lw=1.2, label="further windows"),
        ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 8), fontsize=7)
    if title:
        fig.suptitle(escape(title), fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def __getattr__(name: str) -> Any:
    # The training callback moved to the trainer; it now takes the figure function.
    if name == "SamplePlotCallback":
        warnings.warn(
            "imusynth.plots.gan.SamplePlotCallback moved to "
            "imusynth.train.callbacks.SamplePlotCallback (pass draw=plot_real_vs_synthetic)",
            DeprecationWarning,
            stacklevel=2,
        )
        callbacks = importlib.import_module("imusynth.train.callbacks")
        return functools.partial(callbacks.SamplePlotCallback, draw=plot_real_vs_synthetic)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

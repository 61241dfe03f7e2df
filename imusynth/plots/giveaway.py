"""Figures of what gives synthetic windows away: spectra bands and the top features.

Built without pyplot (no global state); the caller saves the returned
:class:`~matplotlib.figure.Figure`. Channel and feature names are user text and may hold
``$``: they are drawn with ``parse_math=False`` so mathtext never interprets them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imusynth.metrics.embedding import embedding_features

__all__ = ["plot_giveaway_features", "plot_log_psd"]

REAL_COLOR, FAKE_COLOR = "tab:blue", "tab:orange"


def plot_log_psd(
    table: pd.DataFrame, units: Sequence[str] | None = None, *, title: str | None = None
) -> Figure:
    """Per-channel PSD across windows: real median and 10-90 % band shaded, synthetic as lines.

    Parameters
    ----------
    table : DataFrame
        From :func:`~imusynth.metrics.giveaway.log_psd_comparison` (log10 values).
    units : sequence of str, optional
        Unit of every channel, in the table's channel order, for the y label
        (``(unit)²/Hz``).
    title : str, optional

    Examples
    --------
    >>> from imusynth.metrics.giveaway import log_psd_comparison
    >>> x = np.random.default_rng(0).normal(size=(20, 2, 128))
    >>> fig = plot_log_psd(log_psd_comparison(x, 2 * x, ["ax", "w$z"], 50.0), ["g", "rad/s"])
    >>> len(fig.axes), fig.axes[1].get_ylabel()
    (2, 'PSD [(rad/s)²/Hz]')
    """
    channels = list(dict.fromkeys(table["channel"]))
    units = list(units) if units is not None else [""] * len(channels)
    cols = min(3, len(channels))
    rows = -(-len(channels) // cols)
    fig = Figure(figsize=(3.3 * cols + 0.4, 2.5 * rows + 0.9), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True).ravel()
    for ax, ch, unit in zip(axes, channels, units, strict=False):
        t = table[table["channel"] == ch]
        f = t["frequency_hz"].to_numpy()
        ax.fill_between(
            f, 10 ** t["real_p10"], 10 ** t["real_p90"], color=REAL_COLOR, alpha=0.25, lw=0,
            label="real 10-90 %",
        )  # fmt: skip
        ax.plot(f, 10 ** t["real_median"], color=REAL_COLOR, lw=1.4, label="real median")
        ax.plot(f, 10 ** t["synthetic_median"], color=FAKE_COLOR, lw=1.4, label="synthetic median")
        for col, label in (("synthetic_p10", "synthetic 10-90 %"), ("synthetic_p90", None)):
            ax.plot(f, 10 ** t[col], color=FAKE_COLOR, lw=0.9, ls="--", label=label)
        ax.set_yscale("log")
        ax.set_title(str(ch), fontsize=9, parse_math=False)
        ax.set_xlabel("frequency [Hz]", fontsize=8)
        ax.set_ylabel(f"PSD [{_psd_unit(unit)}]", fontsize=8, parse_math=False)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes[len(channels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(title or "Welch PSD across windows: median and 10th-90th percentile",
                 parse_math=False)  # fmt: skip
    return fig


def plot_giveaway_features(
    real: np.ndarray, fake: np.ndarray, report: pd.DataFrame, *, max_features: int = 6
) -> Figure:
    """Distributions of the top giveaway features, real against synthetic.

    Parameters
    ----------
    real, fake : ndarray of shape (N, C, T), (M, C, T)
        The windows the report was made from.
    report : DataFrame
        From :func:`~imusynth.metrics.giveaway.giveaway_report`; its rows (best first) and
        ``attrs`` (feature settings) pick the features.
    max_features : int
        Panels to draw.

    Examples
    --------
    >>> from imusynth.metrics.giveaway import giveaway_report
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(30, 1, 128)).cumsum(2)
    >>> fake = real + rng.normal(size=real.shape)
    >>> rep = giveaway_report(real, fake, ["a$z"], 50.0, top=4)
    >>> len([ax for ax in plot_giveaway_features(real, fake, rep).axes if ax.get_visible()])
    4
    """
    rows = report.head(int(max_features))
    kw = {"bands": report.attrs.get("bands", 8), "jerk": report.attrs.get("jerk", True)}
    fr = embedding_features(real, **kw)[:, rows["column"].to_numpy()]
    ff = embedding_features(fake, **kw)[:, rows["column"].to_numpy()]
    n = max(len(rows), 1)
    cols = min(3, n)
    nrows = -(-n // cols)
    fig = Figure(figsize=(3.4 * cols + 0.4, 2.5 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for i, (ax, row) in enumerate(zip(axes, rows.itertuples(), strict=False)):
        lo = min(fr[:, i].min(), ff[:, i].min())
        hi = max(fr[:, i].max(), ff[:, i].max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
        ax.hist(fr[:, i], bins=bins, density=True, color=REAL_COLOR, alpha=0.45, label="real")
        ax.hist(ff[:, i], bins=bins, density=True, color=FAKE_COLOR, histtype="step", lw=1.5,
                label="synthetic")  # fmt: skip
        note = f"AUC {row.auc:.2f}"
        if "real_vs_real_auc" in rows:
            note += f" (real vs real {row.real_vs_real_auc:.2f})"
        name = "\n".join(textwrap.wrap(str(row.feature), 34, break_on_hyphens=False))
        ax.set_title(f"{name}\n{note}", fontsize=8, parse_math=False)
        ax.set_xlabel("feature value", fontsize=7)
        ax.set_ylabel("density", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes[len(rows) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    title = "Features that best separate real from synthetic windows"
    if "real_vs_real_auc" in rows:
        title += "\n(real vs real: the same feature between two halves of the real subjects)"
    fig.suptitle(title, fontsize=10)
    return fig


def _psd_unit(unit: str) -> str:
    unit = str(unit).strip()
    if not unit:
        return "1/Hz"
    # A compound unit needs brackets before squaring: (rad/s)², but g².
    base = unit if unit.isalnum() else f"({unit})"
    return f"{base}²/Hz"

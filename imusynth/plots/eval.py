"""Figures of the evaluation report: real vs synthetic windows, spectra, embedding, confusion.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (no global state,
no display backend needed) and returns it; the caller saves it with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.signal import welch

from imusynth.plots._text import escape

__all__ = ["plot_class_overlays", "plot_confusion_matrices", "plot_embedding", "plot_psd"]

REAL_COLOR, FAKE_COLOR = "tab:blue", "tab:orange"


def plot_class_overlays(
    real: np.ndarray,
    y_real: np.ndarray,
    fake: np.ndarray,
    y_fake: np.ndarray,
    classes: Sequence[str],
    channels: Sequence[str],
    fs: float = 1.0,
    units: Sequence[str] | None = None,
) -> Figure:
    """Mean ± one standard deviation over windows, per class (rows) and channel (columns).

    ``fs`` is the sampling rate in Hz (time in seconds on the x-axis; 0 or less: samples) and
    ``units`` the physical unit of each channel, written on the y-axes.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(6, 2, 20))
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> fig = plot_class_overlays(x, y, x, y, ["a", "b"], ["c1", "c2"])
    >>> len(fig.axes)
    4
    """
    t = np.arange(real.shape[2]) / (fs if fs > 0 else 1.0)
    fig, axes = _grid(len(classes), len(channels))
    panels = _panels(axes, classes, channels, (real, y_real), (fake, y_fake))
    for ax, k, c, name, ch, series in panels:
        for sel, color, label in series:
            mu, sd = sel.mean(0), sel.std(0)
            ax.plot(t, mu, color=color, lw=1.0, label=f"{label} mean")
            ax.fill_between(
                t, mu - sd, mu + sd, color=color, alpha=0.25, lw=0, label=f"{label} ± sd"
            )
        unit = _unit(units, c)
        ylabel = f"[{unit}]" if unit else "value"
        _label(ax, k, c, name, ch, len(classes), "time [s]" if fs > 0 else "sample", ylabel)
    _legend(fig, axes)
    fig.suptitle("Real vs synthetic: mean ± sd over windows, per class (rows) and channel")
    return fig


def plot_psd(
    real: np.ndarray,
    y_real: np.ndarray,
    fake: np.ndarray,
    y_fake: np.ndarray,
    classes: Sequence[str],
    channels: Sequence[str],
    fs: float = 1.0,
    nperseg: int = 128,
    units: Sequence[str] | None = None,
) -> Figure:
    """Mean Welch power spectral density per class (rows) and channel (columns), log scale.

    ``fs`` is the sampling rate in Hz and ``units`` the physical unit of each channel: the
    y-axes read PSD in unit²/Hz.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(4, 1, 64))
    >>> y = np.array([0, 0, 1, 1])
    >>> len(plot_psd(x, y, x, y, ["a", "b"], ["c"], fs=50.0).axes)
    2
    """
    hz = fs > 0
    fs = fs if hz else 1.0
    fig, axes = _grid(len(classes), len(channels))
    panels = _panels(axes, classes, channels, (real, y_real), (fake, y_fake))
    for ax, k, c, name, ch, series in panels:
        for sel, color, label in series:
            f, p = welch(sel, fs=fs, nperseg=min(nperseg, sel.shape[1]), axis=1)
            ax.semilogy(f[1:], p.mean(0)[1:] + 1e-20, color=color, lw=1.0, label=label)
        unit = _unit(units, c)
        per = "Hz" if hz else "cycle/sample"
        # "(rad/s)²", not "rad/s²" (that would read as an angular acceleration).
        squared = f"{unit}²" if unit.isalnum() else f"({unit})²"
        ylabel = f"PSD [{squared}/{per}]" if unit else f"PSD [1/{per}]"
        xlabel = "frequency [Hz]" if hz else "frequency [cycles/sample]"
        _label(ax, k, c, name, ch, len(classes), xlabel, ylabel)
    _legend(fig, axes)
    fig.suptitle("Mean power spectral density (Welch) per class (rows) and channel")
    return fig


def plot_embedding(
    real: np.ndarray,
    y_real: np.ndarray,
    fake: np.ndarray,
    y_fake: np.ndarray,
    classes: Sequence[str],
) -> Figure:
    """2-D PCA of flattened windows (axes fit on the real set): real dots, synthetic crosses.

    Pass windows normalised per channel, so that no unit dominates the components.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(10, 2, 8))
    >>> y = np.repeat([0, 1], 5)
    >>> len(plot_embedding(x, y, x + 1, y, ["a", "b"]).axes)
    1
    """
    xr = real.reshape(len(real), -1).astype(np.float64)  # (N, C*T)
    xf = fake.reshape(len(fake), -1).astype(np.float64)  # (M, C*T)
    mu = xr.mean(0)
    # Principal axes of the real windows by SVD (deterministic, no extra estimator state).
    _, _, vt = np.linalg.svd(xr - mu, full_matrices=False)
    comps = vt[:2]
    zr, zf = (xr - mu) @ comps.T, (xf - mu) @ comps.T
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    for k, name in enumerate(classes):
        color = f"C{k % 10}"
        label = escape(name)
        ax.scatter(*zr[y_real == k].T, s=10, color=color, alpha=0.6, label=f"{label} real")
        ax.scatter(*zf[y_fake == k].T, s=14, color=color, marker="x", label=f"{label} synthetic")
    ax.set_xlabel("PC 1 of the real windows")
    ax.set_ylabel("PC 2 of the real windows")
    ax.set_title("PCA embedding: dots real, crosses synthetic, colour = class")
    # Beside the axes, where it cannot hide points.
    fig.legend(fontsize=7, loc="outside right upper")
    return fig


def plot_confusion_matrices(matrices: Mapping[str, np.ndarray], classes: Sequence[str]) -> Figure:
    """Side-by-side confusion matrices (rows true, columns predicted), row-normalised colours.

    Examples
    --------
    >>> fig = plot_confusion_matrices({"TRTR": np.eye(2, dtype=int)}, ["a", "b"])
    >>> len(fig.axes)  # the matrix and its colour bar
    2
    """
    n = max(len(matrices), 1)
    fig = Figure(figsize=(3.6 * n, 3.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    image = None
    for ax, (title, cm) in zip(axes, matrices.items(), strict=False):
        cm = np.asarray(cm)
        rows = cm.sum(1, keepdims=True)
        share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
        image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for i, j in np.ndindex(cm.shape):
            color = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7, color=color)
        ticks = np.arange(len(classes))
        names = [escape(c) for c in classes]
        ax.set_xticks(ticks, names, rotation=90, fontsize=7)
        ax.set_yticks(ticks, names, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(escape(title))
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), shrink=0.8)
        bar.set_label("share of the true class (numbers: counts)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    return fig


def _panels(
    axes: np.ndarray,
    classes: Sequence[str],
    channels: Sequence[str],
    real: tuple[np.ndarray, np.ndarray],
    fake: tuple[np.ndarray, np.ndarray],
) -> Iterator[tuple[Any, int, int, str, str, list[tuple[np.ndarray, str, str]]]]:
    """The panels of a class (rows) x channel (columns) grid, row by row: ``(ax, k, c,
    class name, channel name, series)``. ``real`` and ``fake`` are ``(windows (N, C, T),
    labels (N,))``; ``series`` holds ``(windows (n_k, T), colour, label)`` of the real and
    then the synthetic windows of class ``k`` in channel ``c``, a side without windows of
    that class left out."""
    for k, name in enumerate(classes):
        for c, ch in enumerate(channels):
            series = []
            for (X, y), color, label in (
                (real, REAL_COLOR, "real"),
                (fake, FAKE_COLOR, "synthetic"),
            ):
                sel = X[y == k, c]  # (n_k, T)
                if len(sel) > 0:
                    series.append((sel, color, label))
            yield axes[k][c], k, c, name, ch, series


def _grid(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(2.2 * cols + 0.6, 1.5 * rows + 0.8), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=True)


def _unit(units: Sequence[str] | None, c: int) -> str:
    return escape(units[c]) if units is not None and c < len(units) and units[c] else ""


def _label(ax, k: int, c: int, name: str, ch: str, n_rows: int, xlabel: str, ylabel: str) -> None:
    """Channel as column title, ``ylabel`` (with the unit) on every panel since units differ
    between columns, and the class name above it in the first column."""
    ax.tick_params(labelsize=6)
    if k == 0:
        ax.set_title(escape(ch), fontsize=8)
    ax.set_ylabel(f"{escape(name)}\n{ylabel}" if c == 0 else ylabel, fontsize=7)
    if k == n_rows - 1:
        ax.set_xlabel(xlabel, fontsize=7)


def _legend(fig: Figure, axes: np.ndarray) -> None:
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=7)

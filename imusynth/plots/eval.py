"""Figures of the evaluation report: real vs synthetic windows, spectra, embedding, confusion.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (no global state,
no display backend needed) and returns it; the caller saves it with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from scipy.signal import welch

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
) -> Figure:
    """Mean ± one standard deviation over windows, per class (rows) and channel (columns).

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
    for k, name in enumerate(classes):
        for c, ch in enumerate(channels):
            ax = axes[k][c]
            for X, y, color, label in (
                (real, y_real, REAL_COLOR, "real"),
                (fake, y_fake, FAKE_COLOR, "synthetic"),
            ):
                sel = X[y == k, c]  # (n_k, T)
                if len(sel) == 0:
                    continue
                mu, sd = sel.mean(0), sel.std(0)
                ax.plot(t, mu, color=color, lw=1.0, label=label)
                ax.fill_between(t, mu - sd, mu + sd, color=color, alpha=0.25, lw=0)
            _label(ax, k, c, name, ch, len(classes), "time [s]" if fs > 0 else "sample")
    _legend(fig, axes)
    fig.suptitle("Real vs synthetic: mean ± sd per class")
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
) -> Figure:
    """Mean Welch power spectral density per class (rows) and channel (columns), log scale.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(4, 1, 64))
    >>> y = np.array([0, 0, 1, 1])
    >>> len(plot_psd(x, y, x, y, ["a", "b"], ["c"], fs=50.0).axes)
    2
    """
    fs = fs if fs > 0 else 1.0
    fig, axes = _grid(len(classes), len(channels))
    for k, name in enumerate(classes):
        for c, ch in enumerate(channels):
            ax = axes[k][c]
            for X, y, color, label in (
                (real, y_real, REAL_COLOR, "real"),
                (fake, y_fake, FAKE_COLOR, "synthetic"),
            ):
                sel = X[y == k, c]  # (n_k, T)
                if len(sel) == 0:
                    continue
                f, p = welch(sel, fs=fs, nperseg=min(nperseg, sel.shape[1]), axis=1)
                ax.semilogy(f[1:], p.mean(0)[1:] + 1e-20, color=color, lw=1.0, label=label)
            _label(ax, k, c, name, ch, len(classes), "frequency [Hz]")
    _legend(fig, axes)
    fig.suptitle("Mean power spectral density per class")
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
    fig = Figure(figsize=(6.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    for k, name in enumerate(classes):
        color = f"C{k % 10}"
        ax.scatter(*zr[y_real == k].T, s=10, color=color, alpha=0.6, label=f"{name} real")
        ax.scatter(*zf[y_fake == k].T, s=14, color=color, marker="x", label=f"{name} synth")
    ax.set_xlabel("PC 1 (real)")
    ax.set_ylabel("PC 2 (real)")
    ax.set_title("PCA embedding: dots real, crosses synthetic")
    ax.legend(fontsize=6, ncol=2, loc="best")
    return fig


def plot_confusion_matrices(matrices: Mapping[str, np.ndarray], classes: Sequence[str]) -> Figure:
    """Side-by-side confusion matrices (rows true, columns predicted), row-normalised colours.

    Examples
    --------
    >>> fig = plot_confusion_matrices({"TRTR": np.eye(2, dtype=int)}, ["a", "b"])
    >>> len(fig.axes)
    1
    """
    n = max(len(matrices), 1)
    fig = Figure(figsize=(3.6 * n, 3.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (title, cm) in zip(axes, matrices.items(), strict=False):
        cm = np.asarray(cm)
        rows = cm.sum(1, keepdims=True)
        share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for i, j in np.ndindex(cm.shape):
            color = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7, color=color)
        ticks = np.arange(len(classes))
        ax.set_xticks(ticks, classes, rotation=90, fontsize=7)
        ax.set_yticks(ticks, classes, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
    return fig


def _grid(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(2.2 * cols + 0.6, 1.5 * rows + 0.8), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=True)


def _label(ax, k: int, c: int, name: str, ch: str, n_rows: int, xlabel: str) -> None:
    ax.tick_params(labelsize=6)
    if k == 0:
        ax.set_title(ch, fontsize=8)
    if c == 0:
        ax.set_ylabel(name, fontsize=8)
    if k == n_rows - 1:
        ax.set_xlabel(xlabel, fontsize=7)


def _legend(fig: Figure, axes: np.ndarray) -> None:
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=7)

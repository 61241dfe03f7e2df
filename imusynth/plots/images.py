"""Figures of images: real and synthetic ROIs side by side, one row per class and source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from imusynth.plots._text import escape

__all__ = ["plot_image_rows", "plot_real_vs_synthetic_images"]


def plot_image_rows(
    sources: Mapping[str, tuple[np.ndarray, np.ndarray]],
    classes: Sequence[str],
    *,
    n_per_class: int = 8,
) -> Figure:
    """A grid with, for every class, one row of images from each source.

    ``sources`` maps a label ("real", "DCGAN", ...) to ``(X (N, 1, H, W), y (N,))``. Images
    are drawn in grey on the fixed range [-1, 1], so brightness is comparable across panels
    (the analogue of Frid-Adar et al. 2018, Fig. 6).

    Examples
    --------
    >>> X = np.zeros((4, 1, 8, 8), np.float32); y = np.array([0, 0, 1, 1])
    >>> fig = plot_image_rows({"real": (X, y), "GAN": (X, y), "other": (X, y)}, ("a", "b"))
    >>> len(fig.axes) // 8
    6
    """
    rows = len(sources) * len(classes)
    fig = Figure(figsize=(0.9 * n_per_class + 1.2, 0.9 * rows), layout="constrained")
    axes = fig.subplots(rows, n_per_class, squeeze=False)
    r = 0
    for k, name in enumerate(classes):
        for label, (X, y) in sources.items():
            imgs = X[y == k][:n_per_class]
            for j in range(n_per_class):
                ax = axes[r, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j < len(imgs):
                    ax.imshow(imgs[j, 0], cmap="gray", vmin=-1, vmax=1)
                else:
                    ax.set_axis_off()
            axes[r, 0].set_ylabel(f"{escape(name)}\n{escape(label)}", fontsize=7)
            r += 1
    return fig


def plot_real_vs_synthetic_images(
    X_real: np.ndarray,
    y_real: np.ndarray,
    X_fake: np.ndarray,
    y_fake: np.ndarray,
    classes: Sequence[str],
    *,
    n_per_class: int = 8,
) -> Figure:
    """:func:`plot_image_rows` of a real and a synthetic row per class.

    Examples
    --------
    >>> X = np.zeros((4, 1, 8, 8), np.float32); y = np.array([0, 0, 1, 1])
    >>> fig = plot_real_vs_synthetic_images(X, y, X, y, ("a", "b"), n_per_class=2)
    >>> len(fig.axes)
    8
    """
    sources = {"real": (X_real, y_real), "synthetic": (X_fake, y_fake)}
    return plot_image_rows(sources, classes, n_per_class=n_per_class)

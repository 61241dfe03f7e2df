"""Figures of images: real and synthetic ROIs side by side, one row pair per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_real_vs_synthetic_images"]


def plot_real_vs_synthetic_images(
    X_real: np.ndarray,
    y_real: np.ndarray,
    X_fake: np.ndarray,
    y_fake: np.ndarray,
    classes: Sequence[str],
    *,
    n_per_class: int = 8,
) -> Figure:
    """A grid with, for every class, a row of real and a row of synthetic images.

    Images ``(N, 1, H, W)`` are drawn in grey on the fixed range [-1, 1], so brightness is
    comparable across panels (the analogue of Frid-Adar et al. 2018, Fig. 6).

    Examples
    --------
    >>> X = np.zeros((4, 1, 8, 8), np.float32); y = np.array([0, 0, 1, 1])
    >>> fig = plot_real_vs_synthetic_images(X, y, X, y, ("a", "b"), n_per_class=2)
    >>> len(fig.axes)
    8
    """
    rows = 2 * len(classes)
    fig = Figure(figsize=(0.9 * n_per_class + 1.2, 0.9 * rows), layout="constrained")
    axes = fig.subplots(rows, n_per_class, squeeze=False)
    for k, name in enumerate(classes):
        for r, (X, y, kind) in enumerate(((X_real, y_real, "real"), (X_fake, y_fake, "synthetic"))):
            imgs = X[y == k][:n_per_class]
            for j in range(n_per_class):
                ax = axes[2 * k + r, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j < len(imgs):
                    ax.imshow(imgs[j, 0], cmap="gray", vmin=-1, vmax=1)
                else:
                    ax.set_axis_off()
            axes[2 * k + r, 0].set_ylabel(f"{name}\n{kind}", fontsize=7)
    return fig

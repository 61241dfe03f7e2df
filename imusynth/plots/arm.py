"""Plots of arm motion: watch signals beside a stick figure of the arm."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from imusynth.errors import DataError
from imusynth.kinematics.arm import ArmOutput
from imusynth.plots._text import escape

__all__ = ["plot_arm_motion"]

_CHANNEL_COLORS = ("tab:red", "tab:green", "tab:blue")
# Chain drawn as a polyline: hip -> neck -> shoulder -> elbow -> wrist.
_CHAIN = ("hip", "neck", "shoulder", "elbow", "wrist")


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def plot_arm_motion(
    output: ArmOutput,
    fs: float,
    index: int = 0,
    *,
    observed: np.ndarray | torch.Tensor | None = None,
    n_poses: int = 5,
    title: str | None = None,
) -> Figure:
    """Accelerometer, gyroscope and a two-view stick figure of one window of arm motion.

    Parameters
    ----------
    output : ArmOutput
        What :class:`~imusynth.kinematics.ArmModel` returned (simulated or fitted motion).
    fs : float
        Sampling rate in Hz.
    index : int
        Which window of the batch to draw.
    observed : array (6, T), optional
        Recorded ``[ax ay az wx wy wz]`` to overlay (dashed), e.g. the data an IK fit explains.
    n_poses : int
        Poses drawn in the stick figure, evenly spaced in time (marked on the signal plots).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import torch
    >>> from imusynth.kinematics import ArmModel
    >>> out = ArmModel()(torch.zeros(1, 7, 50), fs=50.0)
    >>> fig = plot_arm_motion(out, fs=50.0, n_poses=2)
    >>> len(fig.axes)
    4
    """
    acc = _numpy(output.acc[index])  # (3, T)
    gyro = _numpy(output.gyro[index])  # (3, T)
    points = _numpy(output.points[index])  # (P, 3, T)
    names = list(output.point_names)
    n_t = acc.shape[-1]
    t = np.arange(n_t) / fs
    obs = None if observed is None else _numpy(observed)
    if obs is not None and obs.shape != (6, n_t):
        raise DataError(f"must be (6, {n_t}), got {obs.shape}", field="observed")

    fig = Figure(figsize=(11, 6), layout="constrained")
    grid = fig.add_gridspec(2, 3, width_ratios=(2.2, 1, 1))
    ax_acc = fig.add_subplot(grid[0, 0])
    ax_gyro = fig.add_subplot(grid[1, 0], sharex=ax_acc)
    ax_front = fig.add_subplot(grid[:, 1])
    ax_side = fig.add_subplot(grid[:, 2])

    for ax, sig, offset, unit, labels in (
        (ax_acc, acc, 0, "g", ("ax", "ay", "az")),
        (ax_gyro, gyro, 3, "rad/s", ("wx", "wy", "wz")),
    ):
        for c in range(3):
            ax.plot(t, sig[c], color=_CHANNEL_COLORS[c], lw=1.4, label=f"{labels[c]} model")
            if obs is not None:
                ax.plot(t, obs[offset + c], color=_CHANNEL_COLORS[c], lw=0.9, ls="--", alpha=0.8)
        ax.set_ylabel(f"{'accelerometer' if offset == 0 else 'gyroscope'} [{unit}]")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax_gyro.set_xlabel("time [s]")
    # Say what the dashed lines and the coloured vertical lines are.
    poses = "vertical lines: times of the poses at right (same colours)"
    if obs is not None:
        ax_acc.set_title(f"model (solid) vs observed (dashed)\n{poses}", fontsize=9)
    else:
        ax_acc.set_title(poses, fontsize=9)

    frames = np.linspace(0, n_t - 1, max(n_poses, 1)).round().astype(int)
    cmap = colormaps["viridis"]
    chain = [names.index(n) for n in _CHAIN]
    sensor = names.index("sensor")
    # Front view: lateral (Z) vs up (Y); side view: anterior (X) vs up (Y).
    for ax, horiz, label in ((ax_front, 2, "lateral Z [m]"), (ax_side, 0, "anterior X [m]")):
        for k, f in enumerate(frames):
            color = cmap(k / max(len(frames) - 1, 1))
            ax.plot(points[chain, horiz, f], points[chain, 1, f], "-o", color=color, ms=3, lw=2)
            ax.plot(points[sensor, horiz, f], points[sensor, 1, f], "s", color=color, ms=6)
        ax.set_xlabel(label)
        # One square box around the whole motion, same scale in both views.
        lo, hi = points[:, [horiz, 1]].min((0, 2)), points[:, [horiz, 1]].max((0, 2))
        centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.1 + 0.05
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal", adjustable="box")
        ax.grid(alpha=0.3)
    ax_front.set_ylabel("up Y [m]")
    ax_front.set_title("front view", fontsize=9)
    ax_side.set_title("side view (square: watch)", fontsize=9)
    for ax in (ax_acc, ax_gyro):
        for k, f in enumerate(frames):
            ax.axvline(t[f], color=cmap(k / max(len(frames) - 1, 1)), lw=0.8, alpha=0.6)
    if title:
        fig.suptitle(escape(title))
    return fig

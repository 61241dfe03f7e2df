"""Inverse kinematics of a whole window set: :func:`fit_windows` fits joint angles to every
window with the arm of the wrist the watch was worn on (:func:`.ik.fit_joint_angles`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from imusynth.errors import DataError
from imusynth.kinematics.arm import ArmModel
from imusynth.kinematics.ik import fit_joint_angles

if TYPE_CHECKING:  # a type only: importing the kinematics does not load the data layer
    from imusynth.data.windows import WindowSet

__all__ = ["WindowsFit", "fit_windows"]


@dataclass
class WindowsFit:
    """Result of :func:`fit_windows`.

    Attributes
    ----------
    windows : WindowSet
        The input windows with the fitted ``joint_angles`` (N, J, T) and ``joint_names``.
    r2 : ndarray
        (N, 6) float32 coefficient of determination per channel ``[ax ay az wx wy wz]``.
    mount : ndarray
        (N, 3) float32 fitted watch mounting rotation, axis-angle.
    """

    windows: WindowSet
    r2: np.ndarray
    mount: np.ndarray


def fit_windows(
    ws: WindowSet,
    *,
    steps: int = 150,
    device: str | torch.device = "cpu",
    progress: bool = False,
    seed: int = 0,
    path: str | Path | None = None,
) -> WindowsFit:
    """Fit joint angles to every window of a set, one arm model per watch side.

    Windows worn on the left wrist are fitted with ``ArmModel(side="left")``, the others
    (and windows without a side) with the right arm; see :func:`fit_joint_angles`, which
    gets ``steps``, ``device``, ``progress`` and ``seed`` as they are.

    Parameters
    ----------
    ws : WindowSet
        Windows holding ``ax ay az`` in g and ``wx wy wz`` in rad/s (other channels are
        ignored).
    path : str or Path, optional
        The file ``ws`` came from, named in errors.

    Raises
    ------
    DataError
        No windows, or the IMU channels are missing or in other units.

    Examples
    --------
    >>> from imusynth.data import WindowSet
    >>> from imusynth.kinematics import simulate_dataset
    >>> ds = simulate_dataset(("ABD",), 1, 1, length=50, seed=0)
    >>> fit = fit_windows(WindowSet.from_mapping(ds), steps=2)
    >>> fit.windows.joint_angles.shape[0], fit.r2.shape, fit.mount.shape
    (1, (1, 6), (1, 3))
    """
    if len(ws) == 0:
        raise DataError("the file holds no windows to fit", path=path, field="X")
    idx = ws.require_channels(path=path)
    sides = ws.side if ws.side is not None else np.full(len(ws), "")
    q, r2, mount = None, np.zeros((len(ws), 6), np.float32), np.zeros((len(ws), 3), np.float32)
    for side in sorted(set(sides)):
        rows = np.flatnonzero(sides == side)
        model = ArmModel(side=side or "right")
        X = ws.X[rows][:, idx]  # (B, 6, T): ax ay az wx wy wz
        res = fit_joint_angles(
            X[:, :3],
            X[:, 3:],
            ws.sampling_rate_hz,
            model,
            steps=steps,
            device=device,
            progress=progress,
            seed=seed,
        )
        if q is None:
            q = np.zeros((len(ws),) + tuple(res.q.shape[1:]), np.float32)
            names = res.joint_names
        q[rows] = res.q.numpy()
        r2[rows] = res.r2.numpy()
        mount[rows] = res.mount.numpy()
    out = dataclasses.replace(ws, joint_angles=q, joint_names=names)
    return WindowsFit(windows=out, r2=r2, mount=mount)

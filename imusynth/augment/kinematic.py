"""Kinematic-space augmentation: vary the motion, not the signal.

Classical augmenters edit the signal and can make windows no arm could produce (scaling the
accelerometer changes gravity's magnitude; rotating it tilts gravity). Here each window is
explained by joint-angle trajectories fitted through the arm model
(:func:`imusynth.kinematics.ik.fit_joint_angles`), the trajectories are perturbed as a
person repeating the exercise would vary it — a larger or smaller range of motion
(amplitude) and a locally faster or slower pace (tempo) — clipped to each joint's range of
motion, and re-synthesised by :class:`imusynth.kinematics.arm.ArmModel`. The part of the
signal the model does not explain (the residual: sensor noise, trunk sway the chain
misses) is added back along the same time warp, so at zero strength the window comes back
unchanged, and the augmentation never throws away what the fit could not capture.

Windows must be in physical units (accelerometer in g, gyroscope in rad/s, watch frame of
the arm model), i.e. before normalisation, and all from one arm (``side``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imusynth.augment.base import SeriesAugmenter, check_knots, check_nonnegative, resample_at
from imusynth.augment.timeseries import time_warp_paths
from imusynth.errors import ConfigError

__all__ = ["KinematicAugmenter"]


@dataclass(repr=False, eq=False)
class KinematicAugmenter(SeriesAugmenter):
    """Perturb fitted joint trajectories in amplitude and tempo and re-synthesise the IMU.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    amplitude_sigma : float
        Standard deviation of the per-window gain N(1, sigma) applied to every joint's
        excursion about its mean pose in the window (one gain for all joints, so the
        coordination between joints is kept).
    tempo_sigma : float
        Strength of the smooth monotone time warp of the trajectories (as
        :class:`~imusynth.augment.TimeWarp`'s ``sigma``).
    tempo_knots : int
        Interior knots of the tempo curve.
    side : {"right", "left"}
        The arm every window comes from.
    trunk : bool
        Fit the trunk joints too (the pendulum exercise needs them).
    acc_channels, gyro_channels : 3 ints
        Channel indices of the accelerometer and gyroscope; other channels pass unchanged.
    keep_residual : bool
        Add back what the fitted motion does not explain (see the module docstring).
    ik_steps, restart_steps : int
        Effort of the inverse-kinematics fit (refinement steps, and steps per multi-start
        trial; 0 starts from the hanging arm only). The fit dominates the cost: budget
        about a second per hundred 5 s windows per hundred steps on a CPU.
    device : str
        Where the fit runs: ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Examples
    --------
    >>> from imusynth.kinematics.simulate import simulate_exercise
    >>> X = simulate_exercise("ABD", n=2, length=100, rng=0)["X"]
    >>> aug = KinematicAugmenter(amplitude_sigma=0.2, ik_steps=20, restart_steps=0)
    >>> aug(X, np.random.default_rng(0)).shape
    (2, 6, 100)
    """

    fs: float = 50.0
    amplitude_sigma: float = 0.15
    tempo_sigma: float = 0.1
    tempo_knots: int = 4
    side: str = "right"
    trunk: bool = True
    acc_channels: Sequence[int] = (0, 1, 2)
    gyro_channels: Sequence[int] = (3, 4, 5)
    keep_residual: bool = True
    ik_steps: int = 150
    restart_steps: int = 30
    device: str = "cpu"

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        check_nonnegative(self.amplitude_sigma, "amplitude_sigma")
        check_nonnegative(self.tempo_sigma, "tempo_sigma")
        check_knots(self.tempo_knots)
        channels = [*self.acc_channels, *self.gyro_channels]
        if (
            len(self.acc_channels) != 3
            or len(self.gyro_channels) != 3
            or len(set(channels)) != 6
            or any(not 0 <= c < X.shape[1] for c in channels)
        ):
            raise ConfigError(
                f"need 3 accelerometer and 3 gyroscope channels, distinct and below "
                f"C={X.shape[1]}, got {list(self.acc_channels)} and {list(self.gyro_channels)}",
                field="acc_channels",
            )

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import torch

        from imusynth.kinematics.arm import ArmModel
        from imusynth.kinematics.ik import fit_joint_angles

        acc_idx, gyro_idx = list(self.acc_channels), list(self.gyro_channels)
        model = ArmModel(self.side, trunk=self.trunk)
        fit = fit_joint_angles(
            X[:, acc_idx],
            X[:, gyro_idx],
            self.fs,
            model,
            steps=self.ik_steps,
            restart_steps=self.restart_steps,
            device=self.device,
            seed=int(rng.integers(2**31 - 1)),
        )
        n, _, t = X.shape
        q = fit.q.double().numpy()  # (N, J, T)
        centre = q.mean(axis=2, keepdims=True)  # (N, J, 1)
        gain = rng.normal(1.0, self.amplitude_sigma, size=(n, 1, 1))
        paths = time_warp_paths(n, t, self.tempo_sigma, self.tempo_knots, rng)
        q_new = resample_at(centre + gain * (q - centre), paths)
        limits = model.joint_limits.numpy()  # (J, 2)
        q_new = np.clip(q_new, limits[:, :1], limits[:, 1:])
        with torch.no_grad():
            imu = model(torch.from_numpy(q_new), self.fs, mount=fit.mount.double()).imu
        imu = imu.numpy()  # (N, 6, T)
        if self.keep_residual:
            explained = torch.cat((fit.acc, fit.gyro), dim=1).double().numpy()  # (N, 6, T)
            residual = X[:, acc_idx + gyro_idx].astype(np.float64) - explained
            imu = imu + resample_at(residual, paths)
        out = X.copy()
        out[:, acc_idx] = imu[:, :3]
        out[:, gyro_idx] = imu[:, 3:]
        return out

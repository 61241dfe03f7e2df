"""Kinematic plausibility: can an arm within its range of motion have produced these windows?

The arm model of :mod:`imusynth.kinematics` is fitted to each window by inverse kinematics.
Its joint angles are kept inside the joint limits by construction, so a window that needs an
impossible motion shows up in two ways: the fit explains little of the signal (low R^2), or
the fitted trajectory presses against a joint limit. Both are reported; compare them with the
same numbers on real windows. The kinematics package is imported lazily, so this module
works (and the metric is skipped) where it is not available.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from imusynth.errors import DataError

__all__ = ["kinematic_plausibility"]

log = logging.getLogger(__name__)


def kinematic_plausibility(
    X: np.ndarray,
    fs: float,
    *,
    side: np.ndarray | Sequence[str] | None = None,
    model: Any | Callable[[str], Any] | None = None,
    fit: Callable[..., Any] | None = None,
    acc_channels: Sequence[int] = (0, 1, 2),
    gyro_channels: Sequence[int] = (3, 4, 5),
    margin_deg: float = 2.0,
    r2_threshold: float = 0.5,
    max_windows: int | None = None,
    seed: int = 0,
    **fit_kwargs: Any,
) -> dict[str, Any] | None:
    """Share of windows within range of motion, and the inverse-kinematics fit R^2.

    Parameters
    ----------
    X : ndarray of shape (N, C, T)
        Windows with accelerometer channels in g and gyroscope channels in rad/s.
    fs : float
        Sampling rate in Hz.
    side : array of str, optional
        ``"left"`` / ``"right"`` per window (``""`` or None: right); each side is fitted with
        its own mirrored arm.
    model : ArmModel, callable or None
        An arm model (anything with ``joint_limits`` (J, 2) in radians) used for every
        window, or ``model(side) -> ArmModel``; None builds
        ``imusynth.kinematics.ArmModel(side=side)``.
    fit : callable, optional
        ``fit(acc, gyro, fs, model, **fit_kwargs)`` returning an object with ``q``
        (N, J, T) radians and either ``loss`` (N,), the mean over channels of 1 - R^2 with a
        variance floor (as :func:`imusynth.kinematics.ik.fit_joint_angles` reports), or
        ``r2`` (N,) or (N, channels); default ``imusynth.kinematics.ik.fit_joint_angles``.
    acc_channels, gyro_channels : sequence of int
        Where the accelerometer and gyroscope triplets are in ``X``.
    margin_deg : float
        A window is within range of motion when every joint stays more than this far inside
        its limits for the whole window (a fit pressed against a limit wanted to go beyond).
    r2_threshold : float
        R^2 above which a window counts as explained.
    max_windows : int, optional
        Fit a random subset of this many windows (inverse kinematics is slow).
    seed : int
        Drives the subset and is passed to ``fit`` when it is the default.
    **fit_kwargs
        Passed to ``fit`` (e.g. ``steps=100``).

    Returns
    -------
    dict or None
        ``n``, ``within_rom`` (share), ``ik_r2_mean``, ``ik_r2_median``, ``explained``
        (share with R^2 >= ``r2_threshold``), ``margin_deg``, ``r2_threshold``; None when
        the kinematics package (or its inverse kinematics) is not available.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> arm = SimpleNamespace(joint_limits=np.array([[-1.0, 1.0]]))
    >>> def fit(acc, gyro, fs, model):
    ...     q = np.zeros((len(acc), 1, acc.shape[2]))
    ...     q[0] = 0.9999
    ...     return SimpleNamespace(q=q, r2=np.array([0.2, 0.9]))
    >>> r = kinematic_plausibility(np.zeros((2, 6, 10)), 50.0, model=arm, fit=fit)
    >>> r["within_rom"], r["explained"], r["ik_r2_mean"]
    (0.5, 0.5, 0.55)
    """
    X = np.asarray(X, dtype=np.float32)
    channels = list(acc_channels) + list(gyro_channels)
    if X.ndim != 3 or len(channels) != 6 or max(channels) >= X.shape[1]:
        raise DataError(
            f"need windows (N, C, T) with acc and gyro triplets at {channels}, got {X.shape}",
            field="X",
        )
    if fit is None or model is None:
        kin = _kinematics()
        if kin is None:
            log.info("imusynth.kinematics (inverse kinematics) not available; skipping")
            return None
        arm_cls, default_fit = kin
        if fit is None:
            fit = default_fit
            fit_kwargs = {"seed": seed, **fit_kwargs}
        if model is None:
            model = arm_cls
    sides = _sides(side, len(X))
    if max_windows is not None and len(X) > max_windows:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), max_windows, replace=False))
        X, sides = X[keep], sides[keep]

    within = np.zeros(len(X), dtype=bool)
    r2 = np.zeros(len(X))
    margin = math.radians(margin_deg)
    for s in np.unique(sides):
        idx = np.flatnonzero(sides == s)
        arm = model if hasattr(model, "joint_limits") else model(s)
        res = fit(
            X[idx][:, list(acc_channels)], X[idx][:, list(gyro_channels)], fs, arm, **fit_kwargs
        )
        q = _numpy(res.q)  # (n, J, T)
        limits = _numpy(arm.joint_limits)  # (J, 2)
        lo, hi = limits[None, :, 0, None], limits[None, :, 1, None]
        within[idx] = np.all((q > lo + margin) & (q < hi - margin), axis=(1, 2))
        r2[idx] = _window_r2(res)
    return {
        "n": len(X),
        "within_rom": float(within.mean()),
        "ik_r2_mean": float(r2.mean()),
        "ik_r2_median": float(np.median(r2)),
        "explained": float(np.mean(r2 >= r2_threshold)),
        "margin_deg": float(margin_deg),
        "r2_threshold": float(r2_threshold),
    }


def _kinematics() -> tuple[Any, Callable[..., Any]] | None:
    try:
        arm = importlib.import_module("imusynth.kinematics.arm")
        ik = importlib.import_module("imusynth.kinematics.ik")
    except ImportError:
        return None
    if not hasattr(arm, "ArmModel") or not hasattr(ik, "fit_joint_angles"):
        return None
    return arm.ArmModel, ik.fit_joint_angles


def _window_r2(res: Any) -> np.ndarray:
    # A constant channel (e.g. no rotation about one axis) makes its plain R^2 explode, so
    # prefer the fit's variance-floored loss (mean over channels of 1 - R^2) when it has one.
    loss = getattr(res, "loss", None)
    if loss is not None:
        return 1.0 - _numpy(loss)
    r = _numpy(res.r2)
    return r.mean(axis=1) if r.ndim == 2 else r  # (n,)


def _sides(side: np.ndarray | Sequence[str] | None, n: int) -> np.ndarray:
    if side is None:
        return np.full(n, "right")
    s = np.asarray(side).astype(str)
    if s.shape != (n,):
        raise DataError(f"side has shape {s.shape}, expected ({n},)", field="side")
    s = np.where(s == "", "right", s)
    bad = sorted(set(s.tolist()) - {"left", "right"})
    if bad:
        raise DataError(f"side must be 'left' or 'right', got {bad}", field="side")
    return s


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)

"""Classical augmenters for windows of inertial-sensor data, ``(N, C, T)`` float32.

The set follows Um et al. 2017 ("Data augmentation of wearable sensor data for Parkinson's
disease monitoring using convolutional neural networks"): jitter, scaling, magnitude warp,
time warp, permutation and rotation, plus window slicing (Le Guennec et al. 2016). Every
augmenter draws from the :class:`numpy.random.Generator` it is called with, so a fixed seed
gives a fixed result, and each reduces to the identity at zero strength.

Rotation needs care on wrist data: the direction of gravity in the watch frame is what tells
shoulder exercises apart, so arbitrary rotations destroy the label, while small ones (about
±15°, the default) mimic a watch worn slightly differently and help a CNN. The accelerometer
and gyroscope triplets of one sample are rotated by the same matrix, as a rigid change of
the sensor frame rotates both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import CubicSpline

from imusynth.augment.base import (
    SeriesAugmenter,
    check_knots,
    check_nonnegative,
    resample_at,
)
from imusynth.errors import ConfigError

__all__ = [
    "Jitter",
    "MagnitudeWarp",
    "Permutation",
    "Rotation",
    "Scaling",
    "TimeWarp",
    "WindowSlice",
    "random_rotation_matrices",
    "smooth_curves",
    "time_warp_paths",
]

DEFAULT_TRIPLETS: tuple[tuple[int, int, int], ...] = ((0, 1, 2), (3, 4, 5))


class _SigmaAugmenter(SeriesAugmenter):
    """A series augmenter whose strength is a standard deviation ``sigma`` (at least 0)."""

    sigma: float

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        check_nonnegative(self.sigma, "sigma")


class _SplineAugmenter(_SigmaAugmenter):
    """A ``sigma`` augmenter whose random curves are cubic splines through ``n_knots``
    interior knots (at least 1)."""

    n_knots: int

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        check_knots(self.n_knots)


class Jitter(_SigmaAugmenter):
    """Add independent Gaussian noise to every sample of every channel.

    Parameters
    ----------
    sigma : float
        Standard deviation of the noise, in the units of ``X``.

    Examples
    --------
    >>> X = np.zeros((2, 6, 100), dtype=np.float32)
    >>> out = Jitter(sigma=0.05)(X, np.random.default_rng(0))
    >>> round(float(out.std()), 2)
    0.05
    """

    def __init__(self, sigma: float = 0.03) -> None:
        self.sigma = sigma

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return X + rng.normal(0.0, self.sigma, size=X.shape)


class Scaling(_SigmaAugmenter):
    """Multiply each window by a random factor drawn from N(1, sigma).

    Parameters
    ----------
    sigma : float
        Standard deviation of the factor.
    per_channel : bool
        One factor per channel (Um et al.); if False one factor per window, which keeps the
        direction of each vector triplet.

    Examples
    --------
    >>> X = np.ones((3, 6, 10), dtype=np.float32)
    >>> out = Scaling(sigma=0.1, per_channel=False)(X, np.random.default_rng(0))
    >>> bool(np.allclose(out, out[:, :1, :1]))
    True
    """

    def __init__(self, sigma: float = 0.1, per_channel: bool = True) -> None:
        self.sigma = sigma
        self.per_channel = per_channel

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n_ch = X.shape[1] if self.per_channel else 1
        factor = rng.normal(1.0, self.sigma, size=(len(X), n_ch, 1))  # (N, C or 1, 1)
        return X * factor


class MagnitudeWarp(_SplineAugmenter):
    """Multiply each window by a smooth random curve around 1 (cubic spline through knots).

    Parameters
    ----------
    sigma : float
        Standard deviation of the curve's values at the knots.
    n_knots : int
        Number of interior knots; the curve also has a knot at each end.
    per_channel : bool
        One curve per channel (Um et al.); if False one curve per window.

    Examples
    --------
    >>> X = np.ones((2, 6, 100), dtype=np.float32)
    >>> out = MagnitudeWarp(sigma=0.2, n_knots=4)(X, np.random.default_rng(0))
    >>> out.shape, bool(np.abs(np.diff(out, axis=2)).max() < 0.2)
    ((2, 6, 100), True)
    """

    def __init__(self, sigma: float = 0.2, n_knots: int = 4, per_channel: bool = True) -> None:
        self.sigma = sigma
        self.n_knots = n_knots
        self.per_channel = per_channel

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, c, t = X.shape
        n_ch = c if self.per_channel else 1
        curves = smooth_curves(n * n_ch, t, self.sigma, self.n_knots, rng)
        return X * curves.reshape(n, n_ch, t)  # (N, C or 1, T)


class TimeWarp(_SplineAugmenter):
    """Resample each window along a smooth random monotone time path.

    The local speed of time is a cubic spline through ``n_knots + 2`` knots with values
    drawn from N(1, sigma), clipped to stay positive; its cumulative sum, rescaled to end at
    ``T - 1``, is the warped time. All channels of a window share the path, and the first
    and last samples stay where they are.

    Parameters
    ----------
    sigma : float
        Standard deviation of the speed at the knots.
    n_knots : int
        Number of interior knots.

    Examples
    --------
    >>> X = np.linspace(0, 1, 50, dtype=np.float32)[None, None, :].repeat(2, axis=1)
    >>> out = TimeWarp(sigma=0.2)(X, np.random.default_rng(0))
    >>> bool(out[0, 0, 0] == 0 and out[0, 0, -1] == 1 and (np.diff(out[0, 0]) >= 0).all())
    True
    """

    def __init__(self, sigma: float = 0.2, n_knots: int = 4) -> None:
        self.sigma = sigma
        self.n_knots = n_knots

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        paths = time_warp_paths(len(X), X.shape[2], self.sigma, self.n_knots, rng)
        return resample_at(X, paths)


class WindowSlice(SeriesAugmenter):
    """Crop a random contiguous slice of each window and stretch it back to ``T`` samples.

    Parameters
    ----------
    ratio : float
        Length of the slice as a fraction of ``T``, in (0, 1]; 1 is the identity.

    Examples
    --------
    >>> X = np.arange(100, dtype=np.float32)[None, None, :]
    >>> out = WindowSlice(ratio=0.5)(X, np.random.default_rng(0))
    >>> out.shape, float(out[0, 0, -1] - out[0, 0, 0])
    ((1, 1, 100), 49.0)
    """

    def __init__(self, ratio: float = 0.9) -> None:
        self.ratio = ratio

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        if not 0.0 < self.ratio <= 1.0:
            raise ConfigError(f"must lie in (0, 1], got {self.ratio}", field="ratio")

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, t = X.shape
        length = min(t, max(2, round(self.ratio * t)))
        start = rng.integers(0, t - length + 1, size=n)
        pos = start[:, None] + np.linspace(0.0, length - 1, t)[None, :]  # (N, T)
        return resample_at(X, pos)


class Permutation(SeriesAugmenter):
    """Cut each window into segments along time and put them back in a random order.

    Parameters
    ----------
    n_segments : int
        Number of segments; 1 is the identity.
    random_lengths : bool
        Cut at random points (Um et al.) rather than into equal segments.

    Examples
    --------
    >>> X = np.arange(12, dtype=np.float32)[None, None, :]
    >>> out = Permutation(n_segments=3, random_lengths=False)(X, np.random.default_rng(0))
    >>> sorted(out[0, 0].tolist()) == X[0, 0].tolist()
    True
    """

    def __init__(self, n_segments: int = 4, random_lengths: bool = True) -> None:
        self.n_segments = n_segments
        self.random_lengths = random_lengths

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        if not 1 <= int(self.n_segments) <= X.shape[2]:
            raise ConfigError(
                f"must lie in [1, T={X.shape[2]}], got {self.n_segments}", field="n_segments"
            )

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, t = X.shape
        k = int(self.n_segments)
        out = np.empty_like(X)
        equal_cuts = np.linspace(0, t, k + 1).round().astype(int)[1:-1]
        for i in range(n):
            if self.random_lengths:
                cuts = np.sort(rng.choice(np.arange(1, t), size=k - 1, replace=False))
            else:
                cuts = equal_cuts
            segments = np.split(np.arange(t), cuts)
            order = rng.permutation(k)
            out[i] = X[i][:, np.concatenate([segments[j] for j in order])]
        return out


class Rotation(SeriesAugmenter):
    """Rotate the sensor frame: every vector triplet of a window by one random rotation.

    Each window gets a rotation about an axis drawn uniformly on the sphere by an angle drawn
    uniformly in ``[-max_angle_deg, max_angle_deg]``; the accelerometer and gyroscope
    triplets of that window are rotated by the same matrix, as turning the watch on the
    wrist would. Small angles only: see the module notes on gravity.

    Parameters
    ----------
    max_angle_deg : float
        Largest rotation angle, in degrees, in [0, 180].
    triplets : sequence of 3-tuples of int
        Channel indices of each (x, y, z) vector; by default accelerometer ``(0, 1, 2)`` and
        gyroscope ``(3, 4, 5)``.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(4, 6, 50)).astype(np.float32)
    >>> out = Rotation(max_angle_deg=15)(X, np.random.default_rng(1))
    >>> bool(np.allclose(np.linalg.norm(out[:, :3], axis=1), np.linalg.norm(X[:, :3], axis=1),
    ...                  atol=1e-5))
    True
    """

    def __init__(
        self,
        max_angle_deg: float = 15.0,
        triplets: Sequence[Sequence[int]] = DEFAULT_TRIPLETS,
    ) -> None:
        self.max_angle_deg = max_angle_deg
        self.triplets = triplets

    def _validate(self, X: np.ndarray) -> None:
        super()._validate(X)
        if not 0.0 <= self.max_angle_deg <= 180.0:
            raise ConfigError(
                f"must lie in [0, 180], got {self.max_angle_deg}", field="max_angle_deg"
            )
        flat = [i for trip in self.triplets for i in trip]
        if any(len(trip) != 3 for trip in self.triplets):
            raise ConfigError("each triplet must hold 3 channel indices", field="triplets")
        if len(set(flat)) != len(flat) or any(not 0 <= i < X.shape[1] for i in flat):
            raise ConfigError(
                f"triplets {list(self.triplets)} must be distinct channel indices below "
                f"C={X.shape[1]}",
                field="triplets",
            )

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rot = random_rotation_matrices(len(X), self.max_angle_deg, rng)  # (N, 3, 3)
        out = X.copy()
        for trip in self.triplets:
            idx = list(trip)
            out[:, idx, :] = np.einsum("nij,njt->nit", rot, X[:, idx, :])  # (N, 3, T)
        return out


def random_rotation_matrices(n: int, max_angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` rotation matrices, axis uniform on the sphere, angle uniform in ±max.

    Parameters
    ----------
    n : int
    max_angle_deg : float
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, 3, 3), float64
        Proper rotations (orthogonal, determinant +1), built with Rodrigues' formula.

    Examples
    --------
    >>> R = random_rotation_matrices(5, 30.0, np.random.default_rng(0))
    >>> bool(np.allclose(R @ R.transpose(0, 2, 1), np.eye(3)))
    True
    """
    axis = rng.normal(size=(n, 3))
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    angle = np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg, size=n))
    kx, ky, kz = axis.T
    zero = np.zeros(n)
    cross = np.stack(
        [
            np.stack([zero, -kz, ky], axis=1),
            np.stack([kz, zero, -kx], axis=1),
            np.stack([-ky, kx, zero], axis=1),
        ],
        axis=1,
    )  # (n, 3, 3)
    s = np.sin(angle)[:, None, None]
    c = np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * cross + (1.0 - c) * (cross @ cross)


def smooth_curves(
    n: int, length: int, sigma: float, n_knots: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n`` smooth random curves around 1: cubic splines through random knots.

    Returns
    -------
    ndarray of shape (n, length), float64

    Examples
    --------
    >>> smooth_curves(3, 20, 0.0, 4, np.random.default_rng(0)).tolist() == [[1.0] * 20] * 3
    True
    """
    knot_t = np.linspace(0.0, length - 1, n_knots + 2)
    knot_v = rng.normal(1.0, sigma, size=(n_knots + 2, n))
    return CubicSpline(knot_t, knot_v, axis=0)(np.arange(length)).T  # (n, length)


def time_warp_paths(
    n: int, length: int, sigma: float, n_knots: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n`` warped time axes: strictly increasing, from 0 to ``length - 1``.

    Returns
    -------
    ndarray of shape (n, length), float64
        ``paths[i, t]`` is the (fractional) source index that output step ``t`` reads.

    Examples
    --------
    >>> p = time_warp_paths(2, 50, 0.3, 4, np.random.default_rng(0))
    >>> float(p[0, 0]), float(p[0, -1]), bool((np.diff(p, axis=1) > 0).all())
    (0.0, 49.0, True)
    """
    # Clipping the speed keeps the path strictly monotone even where the spline overshoots.
    speed = np.maximum(smooth_curves(n, length, sigma, n_knots, rng), 0.05)
    path = np.concatenate([np.zeros((n, 1)), np.cumsum(speed[:, :-1], axis=1)], axis=1)
    path *= (length - 1) / path[:, -1:]
    path[:, -1] = length - 1
    return path

"""The augmenter protocol and the combinators that compose augmenters.

An augmenter is a small object whose ``__init__`` only stores keyword parameters and whose
``__call__(X, rng)`` returns a new float32 array of the same shape as ``X``, drawing every
random number from the :class:`numpy.random.Generator` it is given. The leading axis of
``X`` is always the sample axis, so the same combinators serve windows ``(N, C, T)`` and
images ``(N, 1, H, W)``. Validation happens at call time, as scikit-learn does in ``fit``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imusynth.errors import ConfigError, DataError

__all__ = [
    "Augmenter",
    "Compose",
    "OneOf",
    "RandomApply",
    "SeriesAugmenter",
    "check_knots",
    "check_nonnegative",
    "resample_at",
]


class Augmenter:
    """Base class: parameters stored in ``__init__``, work done in :meth:`__call__`.

    Subclasses implement ``_apply(X, rng)`` on a validated float32 copy of ``X`` and may
    override ``_validate(X)`` to check their parameters against the data.
    """

    ndim: int | None = None

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        X = check_batch(X, self.ndim)
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(
                f"expected a numpy.random.Generator, got {type(rng).__name__}", field="rng"
            )
        self._validate(X)
        if len(X) == 0:
            return X.copy()
        out = self._apply(X, rng)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _validate(self, X: np.ndarray) -> None:
        pass

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class Compose(Augmenter):
    """Apply augmenters one after the other.

    Parameters
    ----------
    augmenters : sequence of Augmenter

    Examples
    --------
    >>> from imusynth.augment import Compose, Jitter, Scaling
    >>> X = np.zeros((4, 6, 50), dtype=np.float32)
    >>> aug = Compose([Scaling(sigma=0.1), Jitter(sigma=0.05)])
    >>> aug(X, np.random.default_rng(0)).shape
    (4, 6, 50)
    """

    def __init__(self, augmenters: Sequence[Augmenter]) -> None:
        self.augmenters = augmenters

    def _validate(self, X: np.ndarray) -> None:
        _check_callables(self.augmenters)

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for aug in self.augmenters:
            X = aug(X, rng)
        return X


class RandomApply(Augmenter):
    """Apply an augmenter to each sample independently with probability ``p``.

    Parameters
    ----------
    augmenter : Augmenter
    p : float
        Probability, per sample, that the augmenter is applied.

    Examples
    --------
    >>> from imusynth.augment import Jitter, RandomApply
    >>> X = np.zeros((100, 3, 20), dtype=np.float32)
    >>> out = RandomApply(Jitter(sigma=1.0), p=0.3)(X, np.random.default_rng(0))
    >>> changed = (out != 0).any(axis=(1, 2))
    >>> 10 < int(changed.sum()) < 50
    True
    """

    def __init__(self, augmenter: Augmenter, p: float = 0.5) -> None:
        self.augmenter = augmenter
        self.p = p

    def _validate(self, X: np.ndarray) -> None:
        _check_probability(self.p, "p")
        _check_callables([self.augmenter])

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        chosen = rng.random(len(X)) < self.p
        out = X.copy()
        if chosen.any():
            out[chosen] = self.augmenter(X[chosen], rng)
        return out


class OneOf(Augmenter):
    """Apply exactly one of several augmenters to each sample, drawn per sample.

    Parameters
    ----------
    augmenters : sequence of Augmenter
    p : sequence of float, optional
        Probability of each augmenter; uniform when omitted.

    Examples
    --------
    >>> from imusynth.augment import OneOf, Permutation, TimeWarp
    >>> X = np.random.default_rng(1).normal(size=(8, 6, 50)).astype(np.float32)
    >>> OneOf([Permutation(n_segments=4), TimeWarp(sigma=0.2)])(X, np.random.default_rng(0)).shape
    (8, 6, 50)
    """

    def __init__(self, augmenters: Sequence[Augmenter], p: Sequence[float] | None = None) -> None:
        self.augmenters = augmenters
        self.p = p

    def _validate(self, X: np.ndarray) -> None:
        _check_callables(self.augmenters)
        if len(self.augmenters) == 0:
            raise ConfigError("OneOf needs at least one augmenter", field="augmenters")
        if self.p is not None:
            p = np.asarray(self.p, dtype=np.float64)
            if p.shape != (len(self.augmenters),) or (p < 0).any() or not np.isclose(p.sum(), 1):
                raise ConfigError(
                    "p must hold one non-negative probability per augmenter, summing to 1",
                    field="p",
                )

    def _apply(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        which = rng.choice(len(self.augmenters), size=len(X), p=self.p)
        out = X.copy()
        for k, aug in enumerate(self.augmenters):
            idx = np.flatnonzero(which == k)
            if len(idx):
                out[idx] = aug(X[idx], rng)
        return out


def check_batch(X: np.ndarray, ndim: int | None = None) -> np.ndarray:
    """Return ``X`` as a float32 array after checking its rank and finiteness."""
    X = np.asarray(X)
    if ndim is not None and X.ndim != ndim:
        raise DataError(f"expected a {ndim}-D array, got shape {X.shape}", field="X")
    if X.ndim < 2:
        raise DataError(f"expected a batch of samples, got shape {X.shape}", field="X")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise DataError(f"expected real numbers, got dtype {X.dtype}", field="X")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        raise DataError("X contains NaN or Inf", field="X")
    return X


def _check_callables(augmenters: Sequence[Augmenter]) -> None:
    for aug in augmenters:
        if not callable(aug):
            raise ConfigError(f"{aug!r} is not an augmenter", field="augmenters")


def _check_probability(p: float, field: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"must lie in [0, 1], got {p}", field=field)


def check_nonnegative(value: float, field: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number >= 0."""
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"must be a finite number >= 0, got {value}", field=field)


class SeriesAugmenter(Augmenter):
    """Base of the augmenters of windows ``(N, C, T)``: at least 2 time steps."""

    ndim = 3

    def _validate(self, X: np.ndarray) -> None:
        if X.shape[2] < 2:
            raise DataError(f"windows need at least 2 time steps, got {X.shape[2]}", field="X")


def resample_at(X: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linearly interpolate ``X`` (N, C, T) at fractional time positions ``pos`` (N, T')."""
    t = X.shape[2]
    pos = np.clip(pos, 0.0, t - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), t - 2)
    frac = (pos - lo)[:, None, :]  # (N, 1, T')
    lo = np.broadcast_to(lo[:, None, :], (X.shape[0], X.shape[1], pos.shape[1]))
    left = np.take_along_axis(X, lo, axis=2)
    right = np.take_along_axis(X, lo + 1, axis=2)
    return left + frac * (right - left)


def check_knots(n_knots: int) -> None:
    """Raise :class:`ConfigError` unless ``n_knots`` is an integer >= 1."""
    if int(n_knots) != n_knots or n_knots < 1:
        raise ConfigError(f"must be an integer >= 1, got {n_knots}", field="n_knots")

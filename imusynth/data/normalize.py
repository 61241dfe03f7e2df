"""Per-channel normaliser, fit on training data only."""

from __future__ import annotations

import numpy as np

from imusynth.errors import DataError

__all__ = ["ChannelNormalizer"]


class ChannelNormalizer:
    """Standardise each channel of ``(N, C, T)`` windows (or ``(N, 1, H, W)`` images).

    Statistics are pooled over windows and time for each channel, so the shape of a signal
    within a window is kept. Fit it on the training fold only.

    Parameters
    ----------
    eps : float
        Floor on the scale, so a constant channel does not divide by zero.

    Attributes
    ----------
    mean_ : ndarray of shape (C,)
    scale_ : ndarray of shape (C,)

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 2, 50)).astype(np.float32)
    >>> norm = ChannelNormalizer().fit(X)
    >>> Z = norm.transform(X)
    >>> bool(abs(Z.mean()) < 1e-5)
    True
    >>> bool(np.allclose(norm.inverse_transform(Z), X, atol=1e-5))
    True
    """

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = eps

    def fit(self, X: np.ndarray) -> ChannelNormalizer:
        X = _check(X)
        axes = (0,) + tuple(range(2, X.ndim))
        self.mean_ = X.mean(axis=axes, dtype=np.float64)
        self.scale_ = np.maximum(X.std(axis=axes, dtype=np.float64), self.eps)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = _check(X, self._n_channels())
        return ((X - self._b(self.mean_, X)) / self._b(self.scale_, X)).astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        Z = _check(Z, self._n_channels())
        return (Z * self._b(self.scale_, Z) + self._b(self.mean_, Z)).astype(np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, so it can live in a ``weights_only`` checkpoint or a JSON file."""
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> ChannelNormalizer:
        norm = cls()
        norm.mean_ = np.asarray(state["mean"], dtype=np.float64)
        norm.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return norm

    def _n_channels(self) -> int:
        if not hasattr(self, "mean_"):
            raise RuntimeError("ChannelNormalizer is not fitted; call fit(X_train) first")
        return len(self.mean_)

    @staticmethod
    def _b(v: np.ndarray, X: np.ndarray) -> np.ndarray:
        return v.reshape((1, -1) + (1,) * (X.ndim - 2))  # (1, C, 1[, 1])


def _check(X: np.ndarray, n_channels: int | None = None) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim < 3:
        raise DataError(f"expected (N, C, T) or (N, C, H, W) array, got shape {X.shape}", field="X")
    if n_channels is not None and X.shape[1] != n_channels:
        raise DataError(
            f"expected {n_channels} channels, got {X.shape[1]} (shape {X.shape})", field="X"
        )
    if not np.all(np.isfinite(X)):
        raise DataError("NaN or Inf in input", field="X")
    return X

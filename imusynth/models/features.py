"""Hand-made window features and the feature random forest (the kind of model Burns et al.
2018 used on the smartwatch exercise data).

Per signal (each channel, and the vector magnitude of each accelerometer/gyroscope triplet):
mean, standard deviation, min, max, 10/25/50/75/90th percentiles, RMS, skewness, kurtosis,
zero-crossing rate about the mean, autocorrelation at a few lags, and the log energy in
frequency bands (Welch PSD). Per window: the Pearson correlation of every pair of channels.
Band edges are fractions of the Nyquist frequency, so the features need no sampling rate; at
50 Hz the defaults are 0-0.5, 0.5-1, 1-2, 2-4, 4-8 and 8-25 Hz.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

import numpy as np
from scipy.signal import welch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.ensemble import RandomForestClassifier

from imusynth.errors import DataError

__all__ = ["FeatureRandomForest", "WindowFeatures", "feature_names", "window_features"]

STATS = (
    "mean",
    "std",
    "min",
    "max",
    "p10",
    "p25",
    "p50",
    "p75",
    "p90",
    "rms",
    "skew",
    "kurt",
    "zcr",
)
DEFAULT_LAGS = (1, 2, 5, 10, 25)
DEFAULT_BANDS = (0.0, 0.02, 0.04, 0.08, 0.16, 0.32, 1.0)
_EPS = 1e-12


def window_features(
    X: np.ndarray,
    *,
    triplets: str | Sequence[Sequence[int]] | None = "auto",
    lags: Sequence[int] = DEFAULT_LAGS,
    bands: Sequence[float] = DEFAULT_BANDS,
    nperseg: int = 128,
) -> np.ndarray:
    """Features ``(N, F)`` of windows ``(N, C, T)``; see the module docstring for the list.

    Parameters
    ----------
    X : ndarray of shape (N, C, T)
    triplets : "auto", None or sequence of index triplets
        Channel triplets whose vector magnitude is also described. ``"auto"`` takes
        consecutive triplets (ax ay az, wx wy wz, ...) when C is a multiple of 3.
    lags : sequence of int
        Autocorrelation lags in samples (lags >= T give 0).
    bands : sequence of float
        Increasing band edges as fractions of the Nyquist frequency, from 0 to 1.
    nperseg : int
        Welch segment length (capped at T).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(4, 6, 250)).astype(np.float32)
    >>> F = window_features(X)
    >>> F.shape == (4, len(feature_names(6)))
    True
    """
    X = _check_windows(X).astype(np.float64)
    n, c, _ = X.shape
    trip = _resolve_triplets(triplets, c)
    signals = X
    if trip:
        mags = np.stack([np.linalg.norm(X[:, list(t)], axis=1) for t in trip], axis=1)
        signals = np.concatenate([X, mags], axis=1)  # (N, C + n_triplets, T)
    per_signal = _signal_features(signals, lags, bands, nperseg)  # (N, S, F)
    parts = [per_signal.reshape(n, -1), _channel_correlations(X)]  # (N, S*F), (N, C(C-1)/2)
    return np.concatenate(parts, axis=1).astype(np.float32)


def feature_names(
    n_channels: int,
    channels: Sequence[str] | None = None,
    *,
    triplets: str | Sequence[Sequence[int]] | None = "auto",
    lags: Sequence[int] = DEFAULT_LAGS,
    bands: Sequence[float] = DEFAULT_BANDS,
) -> list[str]:
    """Names of the columns of :func:`window_features`, in order.

    Examples
    --------
    >>> feature_names(2, ["ax", "ay"], triplets=None)[:3]
    ['ax_mean', 'ax_std', 'ax_min']
    """
    names = list(channels) if channels is not None else [f"c{i}" for i in range(n_channels)]
    trip = _resolve_triplets(triplets, n_channels)
    signals = names + ["|" + ",".join(names[i] for i in t) + "|" for t in trip]
    per = [*STATS, *(f"acf{lag}" for lag in lags)]
    per += [f"band{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(bands)]
    out = [f"{s}_{f}" for s in signals for f in per]
    iu = np.triu_indices(n_channels, k=1)
    out += [f"corr_{names[i]}_{names[j]}" for i, j in zip(*iu, strict=True)]
    return out


@dataclass(repr=False, eq=False)
class WindowFeatures(TransformerMixin, BaseEstimator):
    """scikit-learn transformer ``(N, C, T) -> (N, F)`` around :func:`window_features`.

    Examples
    --------
    >>> X = np.zeros((2, 3, 64), dtype=np.float32)
    >>> WindowFeatures(triplets=None).fit_transform(X).shape
    (2, 75)
    """

    triplets: str | Sequence[Sequence[int]] | None = "auto"
    lags: Sequence[int] = DEFAULT_LAGS
    bands: Sequence[float] = DEFAULT_BANDS
    nperseg: int = 128

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> WindowFeatures:
        X = _check_windows(X)
        self.n_channels_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return window_features(
            X, triplets=self.triplets, lags=self.lags, bands=self.bands, nperseg=self.nperseg
        )

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        names = feature_names(
            self.n_channels_,
            input_features,
            triplets=self.triplets,
            lags=self.lags,
            bands=self.bands,
        )
        return np.asarray(names, dtype=object)


@dataclass(repr=False, eq=False)
class FeatureRandomForest(ClassifierMixin, BaseEstimator):
    """Random forest on :func:`window_features` (a Burns et al. 2018 style baseline).

    Parameters
    ----------
    n_estimators : int
    max_features : str, int or float
        As in :class:`~sklearn.ensemble.RandomForestClassifier`.
    min_samples_leaf : int
    class_weight : None, "balanced", "balanced_subsample" or dict
    triplets : "auto", None or sequence of index triplets
        See :func:`window_features`.
    random_state : int, optional
        Makes the fit deterministic.
    n_jobs : int, optional

    Attributes
    ----------
    classes_ : ndarray
    features_ : WindowFeatures
    forest_ : RandomForestClassifier

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3, 64)).astype(np.float32)
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1] *= 3.0
    >>> clf = FeatureRandomForest(n_estimators=20, random_state=0).fit(X, y)
    >>> float(clf.score(X, y))
    1.0
    """

    n_estimators: int = 300
    _: KW_ONLY
    max_features: str | int | float = "sqrt"
    min_samples_leaf: int = 1
    class_weight: str | dict | None = None
    triplets: str | Sequence[Sequence[int]] | None = "auto"
    random_state: int | None = None
    n_jobs: int | None = None

    def fit(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
    ) -> FeatureRandomForest:
        """Fit on windows ``(N, C, T)``; ``groups`` is accepted for a uniform API and unused."""
        X = _check_windows(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise DataError(f"y has shape {y.shape}, expected ({len(X)},)", field="y")
        self.features_ = WindowFeatures(triplets=self.triplets).fit(X)
        forest_params = self.get_params(deep=False)
        del forest_params["triplets"]  # the features'; every other parameter is the forest's
        self.forest_ = RandomForestClassifier(**forest_params).fit(self.features_.transform(X), y)
        self.classes_ = self.forest_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.forest_.predict_proba(self.transform(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The window features ``(N, F)`` the forest sees."""
        if not hasattr(self, "features_"):
            raise RuntimeError("FeatureRandomForest is not fitted; call fit(X, y) first")
        return self.features_.transform(X)

    embed = transform


# -- internals -----------------------------------------------------------------------------
def _check_windows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3:
        raise DataError(f"expected windows (N, C, T), got shape {X.shape}", field="X")
    if len(X) == 0 or X.shape[2] < 4:
        raise DataError(f"need at least one window of 4 samples, got shape {X.shape}", field="X")
    if not np.all(np.isfinite(X)):
        raise DataError("NaN or Inf in windows", field="X")
    return X


def _resolve_triplets(
    triplets: str | Sequence[Sequence[int]] | None, n_channels: int
) -> list[tuple[int, ...]]:
    if triplets is None:
        return []
    if isinstance(triplets, str):
        if triplets != "auto":
            raise DataError(f"triplets must be 'auto', None or index triplets, got {triplets!r}")
        if n_channels % 3:
            return []
        return [(i, i + 1, i + 2) for i in range(0, n_channels, 3)]
    out = [tuple(int(i) for i in t) for t in triplets]
    if any(len(t) != 3 or min(t) < 0 or max(t) >= n_channels for t in out):
        raise DataError(f"bad channel triplets {out} for {n_channels} channels", field="triplets")
    return out


def _signal_features(
    S: np.ndarray, lags: Sequence[int], bands: Sequence[float], nperseg: int
) -> np.ndarray:
    """Features of every signal of ``S`` ``(N, M, T)`` -> ``(N, M, F)``."""
    t = S.shape[2]
    mean = S.mean(2)
    centered = S - mean[..., None]
    var = (centered**2).mean(2)
    std = np.sqrt(var)
    # Moments by hand with a floor on the variance: scipy.stats warns on constant signals.
    skew = (centered**3).mean(2) / (std**3 + _EPS)
    kurt = (centered**4).mean(2) / (var**2 + _EPS) - 3.0
    pct = np.percentile(S, [10, 25, 50, 75, 90], axis=2)  # (5, N, M)
    rms = np.sqrt((S**2).mean(2))
    signs = np.signbit(centered)
    zcr = (signs[..., 1:] != signs[..., :-1]).mean(2)
    acf = []
    for lag in lags:
        if 0 < lag < t:
            acf.append((centered[..., :-lag] * centered[..., lag:]).sum(2) / (var * t + _EPS))
        else:
            acf.append(np.zeros_like(mean))
    freqs, psd = welch(S, nperseg=min(nperseg, t), axis=2)  # fs = 1: freqs in [0, 0.5]
    rel = freqs / 0.5
    energy = []
    edges = np.asarray(bands, dtype=np.float64)
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        sel = (rel >= lo) & ((rel <= hi) if last else (rel < hi))
        energy.append(np.log10(psd[..., sel].sum(2) + _EPS))
    cols = [mean, std, S.min(2), S.max(2), *pct, rms, skew, kurt, zcr, *acf, *energy]
    return np.stack(cols, axis=2)


def _channel_correlations(X: np.ndarray) -> np.ndarray:
    centered = X - X.mean(2, keepdims=True)
    norm = np.sqrt((centered**2).sum(2)) + _EPS
    unit = centered / norm[..., None]
    corr = np.einsum("nct,ndt->ncd", unit, unit)  # (N, C, C)
    iu = np.triu_indices(X.shape[1], k=1)
    return corr[:, iu[0], iu[1]]

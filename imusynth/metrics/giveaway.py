"""What gives synthetic windows away: the features and spectra that tell them from real ones.

A discriminator's score says *that* synthetic windows can be told apart; this module says
*how*. :func:`giveaway_report` ranks every feature of
:func:`~imusynth.metrics.embedding.embedding_features` (level, spread, shape,
autocorrelation, log-energy in equal-width bands, jerk, inter-axis correlation) by how well
it alone separates real from synthetic windows (the area under the ROC curve of the raw
feature value), with the real and synthetic medians and 10th/90th percentiles beside it.
:func:`log_psd_comparison` sets the per-channel Welch spectra side by side as bands across
windows, so a generator with too much energy near Nyquist, too little at mid frequencies, or
too little window-to-window spread shows at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.signal import welch
from scipy.stats import rankdata

from imusynth.errors import DataError
from imusynth.metrics.embedding import embedding_feature_names, embedding_features

__all__ = ["feature_auc", "giveaway_report", "log_psd_comparison"]

_PCT = (10, 50, 90)


def feature_auc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column ROC AUC of telling ``b`` from ``a`` by the raw value: ``P(b > a)``.

    Computed from ranks (the Mann-Whitney U statistic over ``len(a) * len(b)``); ties count
    one half. 0.5: the column does not separate the sets; 0 or 1: it separates them fully.

    Parameters
    ----------
    a, b : ndarray of shape (N, D), (M, D)

    Examples
    --------
    >>> a = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> b = np.array([[2.0, 1.0], [3.0, 1.0]])
    >>> feature_auc(a, b)
    array([1. , 0.5])
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise DataError(f"expected two feature sets (N, D), got {a.shape} and {b.shape}")
    ranks = rankdata(np.concatenate([a, b]), axis=0)  # (N + M, D), ties averaged
    m = len(b)
    u = ranks[len(a) :].sum(0) - m * (m + 1) / 2.0
    return u / (len(a) * m)


def giveaway_report(
    real: np.ndarray,
    fake: np.ndarray,
    channels: Sequence[str],
    sampling_rate_hz: float,
    real_groups: np.ndarray | None = None,
    top: int = 10,
    *,
    bands: int = 8,
    jerk: bool = True,
) -> pd.DataFrame:
    """The features that best tell synthetic windows from real ones, best first.

    Parameters
    ----------
    real, fake : ndarray of shape (N, C, T), (M, C, T)
        In physical units (the features include levels and log energies).
    channels : sequence of str
        Channel names, for readable feature names.
    sampling_rate_hz : float
        For band edges in Hz and lags in seconds.
    real_groups : ndarray of shape (N,), optional
        Subject of every real window. When given, a column ``real_vs_real_auc`` holds each
        feature's AUC between two disjoint halves of the real subjects (sorted ids, taken
        alternately): the separation that subject differences alone produce.
    top : int
        Rows to keep (all features when ``top`` is 0 or more than their number).
    bands : int
        Equal-width spectral bands per signal.
    jerk : bool
        Include jerk statistics.

    Returns
    -------
    DataFrame
        One row per feature, sorted by ``separation = |auc - 0.5|`` (descending): ``feature``
        (readable name), ``column`` (index into
        :func:`~imusynth.metrics.embedding.embedding_features`), ``auc`` (``P(synthetic >
        real)``), ``separation``, ``real_median``, ``real_p10``, ``real_p90``,
        ``synthetic_median``, ``synthetic_p10``, ``synthetic_p90`` and, with
        ``real_groups``, ``real_vs_real_auc``. ``attrs`` holds ``bands``, ``jerk`` and
        ``sampling_rate_hz``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(60, 1, 128)).cumsum(2)
    >>> fake = real + 0.5 * rng.normal(size=real.shape)  # extra high-frequency noise
    >>> giveaway_report(real, fake, ["az"], 50.0, top=2)["feature"].tolist()
    ['az jerk rms (log10)', 'az jerk max (log10)']
    """
    real, fake, channels, fs = _inputs(real, fake, channels, sampling_rate_hz)
    fr = embedding_features(real, bands=bands, jerk=jerk)
    ff = embedding_features(fake, bands=bands, jerk=jerk)
    auc = feature_auc(fr, ff)
    pr = np.percentile(fr, _PCT, axis=0)  # (3, F)
    pf = np.percentile(ff, _PCT, axis=0)
    table = pd.DataFrame(
        {
            "feature": embedding_feature_names(channels, fs, bands=bands, jerk=jerk),
            "column": np.arange(fr.shape[1]),
            "auc": auc,
            "separation": np.abs(auc - 0.5),
            **_spread_columns(pr, pf),
        }
    )
    if real_groups is not None:
        table["real_vs_real_auc"] = _real_floor(fr, real_groups)
    # A stable sort keeps the feature order among ties, so the report is deterministic.
    table = table.sort_values("separation", ascending=False, kind="stable")
    if top and top > 0:
        table = table.head(int(top))
    table = table.reset_index(drop=True)
    table.attrs.update(bands=int(bands), jerk=bool(jerk), sampling_rate_hz=fs)
    return table


def log_psd_comparison(
    real: np.ndarray,
    fake: np.ndarray,
    channels: Sequence[str],
    sampling_rate_hz: float,
    *,
    nperseg: int = 128,
) -> pd.DataFrame:
    """Per-channel log10 Welch PSD across windows: real and synthetic median and 10-90 %.

    Each window's PSD is taken (mean removed, ``nperseg`` samples per segment, capped at
    T); at every frequency above 0 the median and the 10th and 90th percentiles across
    windows of ``log10 PSD`` are reported, in ``log10((unit)^2 / Hz)``. The width of the
    band is the window-to-window spread that mode collapse narrows.

    Returns
    -------
    DataFrame
        Long format, one row per channel and frequency: ``channel``, ``frequency_hz``,
        ``real_median``, ``real_p10``, ``real_p90``, ``synthetic_median``,
        ``synthetic_p10``, ``synthetic_p90``.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(40, 2, 128))
    >>> t = log_psd_comparison(x, 2 * x, ["ax", "ay"], 50.0)
    >>> t.shape, round(float((t.synthetic_median - t.real_median).mean()), 2)
    ((128, 8), 0.6)
    """
    real, fake, channels, fs = _inputs(real, fake, channels, sampling_rate_hz)
    seg = min(int(nperseg), real.shape[2])
    f, pr = welch(real, fs=fs, nperseg=seg, axis=2)  # (N, C, F)
    _, pf = welch(fake, fs=fs, nperseg=seg, axis=2)
    # Floor 12 decades below the strongest bin, so a silent channel gives a finite log.
    floor = max(float(pr.max()), float(pf.max()), 1e-30) * 1e-12
    lr = np.percentile(np.log10(pr[..., 1:] + floor), _PCT, axis=0)  # (3, C, F-1)
    lf = np.percentile(np.log10(pf[..., 1:] + floor), _PCT, axis=0)
    n_f = len(f) - 1
    return pd.DataFrame(
        {
            "channel": np.repeat(channels, n_f),
            "frequency_hz": np.tile(f[1:], len(channels)),
            **_spread_columns(lr, lf),
        }
    )


# -- internals -----------------------------------------------------------------------------
def _inputs(
    real: np.ndarray, fake: np.ndarray, channels: Sequence[str], sampling_rate_hz: float
) -> tuple[np.ndarray, np.ndarray, list[str], float]:
    """The checked windows, channel names and sampling rate of a report."""
    real, fake = _pair(real, fake)
    channels = [str(c) for c in channels]
    if len(channels) != real.shape[1]:
        raise DataError(
            f"{len(channels)} channel names for {real.shape[1]} channels", field="channels"
        )
    return real, fake, channels, _rate(sampling_rate_hz)


def _spread_columns(real_pct: np.ndarray, fake_pct: np.ndarray) -> dict[str, np.ndarray]:
    """Median, 10th and 90th percentile columns from the ``_PCT`` percentiles ``(3, ...)`` of
    the real and the synthetic side, flattened."""
    return {
        f"{side}_{stat}": pct[i].ravel()
        for side, pct in (("real", real_pct), ("synthetic", fake_pct))
        for stat, i in (("median", 1), ("p10", 0), ("p90", 2))
    }


def _pair(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    for name, arr in (("real", real), ("fake", fake)):
        if arr.ndim != 3 or len(arr) < 2:
            raise DataError(f"expected at least 2 windows (N, C, T), got {arr.shape}", field=name)
        if not np.all(np.isfinite(arr)):
            raise DataError(f"NaN or Inf in {name} windows", field=name)
    if real.shape[1:] != fake.shape[1:]:
        raise DataError(
            f"real windows {real.shape[1:]} and synthetic {fake.shape[1:]} differ in shape",
            field="fake",
        )
    return real, fake


def _rate(fs: float) -> float:
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise DataError(f"sampling rate must be positive, got {fs}", field="sampling_rate_hz")
    return fs


def _real_floor(fr: np.ndarray, groups: np.ndarray) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.shape != (len(fr),):
        raise DataError(
            f"real_groups has shape {groups.shape}, expected ({len(fr)},)", field="real_groups"
        )
    ids = np.unique(groups)
    if len(ids) < 2:
        raise DataError("real_groups needs at least 2 subjects", field="real_groups")
    second = np.isin(groups, ids[1::2])
    return feature_auc(fr[~second], fr[second])

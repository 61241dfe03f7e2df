"""An imbalanced-learn over-sampler that tops classes up with conditional-GAN windows.

:class:`CGANOverSampler` trains a :class:`~imusynth.gan.ConditionalGAN` on the rows it is
given (inside a cross-validation fold: the training rows of that fold only) and appends
generated windows for the classes that ``sampling_strategy_`` asks for. It takes windows
flattened to ``(N, C * T)`` (what an :class:`imblearn.pipeline.Pipeline` passes between
steps) or ``(N, C, T)`` directly, and returns the same layout, in the same units. Arrays do
not know their sampling rate, units or gravity, so these are parameters it requires
(:mod:`imusynth.gan.arrays`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from imusynth.config import to_dict
from imusynth.errors import ConfigError, DataError
from imusynth.gan.arrays import array_params
from imusynth.gan.estimators import ConditionalGAN
from imusynth.train.config import GANConfig, config_from_dict, load_config, warn_deprecated

__all__ = ["CGANOverSampler"]

KINEMATIC_CHANNELS = 6  # ax, ay, az [g], wx, wy, wz [rad/s]: what the arm model makes

# Config keys that are estimator parameters: one way to set each.
_PARAM_KEYS = {
    "model.generator": "generator",
    "train.steps": "steps",
    "train.batch_size": "batch_size",
    "train.seed": "random_state",
}


@dataclass(repr=False, eq=False, kw_only=True)
class CGANOverSampler(BaseOverSampler):
    """Over-sample with windows from a class-conditional GAN trained on the data itself.

    One :class:`~imusynth.gan.ConditionalGAN` is trained on all rows of ``X`` (every class,
    so rare classes share what the common ones teach about the signal); it then generates
    the number of windows ``sampling_strategy_`` gives for each class. The real rows come
    first, unchanged and in order; the synthetic rows are appended, grouped by class.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        How many windows to add per class, as in every imbalanced-learn over-sampler
        (``"auto"``: every class but the majority up to the majority's count).
    generator : {"conv1d", "kinematic"} or None, default=None
        The generator; ``None`` takes the config default (``"conv1d"``). ``"kinematic"``
        needs 6 channels, accelerometer then gyroscope (any units they convert from), and
        ``gravity``.
    window_shape : tuple of (int, int) or None, default=None
        ``(C, T)``, how one flattened row of ``C * T`` features folds into a window
        (channel-major: ``X3.reshape(N, -1)`` of windows ``X3 (N, C, T)``). ``None``: from
        ``X`` when it is 3-D; else as many channels as ``units`` names (one per channel),
        else 6 channels for the kinematic generator and one channel of ``n_features``
        samples for ``"conv1d"``.
    steps : int or None, default=None
        GAN generator updates; ``None`` takes the config default.
    batch_size : int or None, default=None
        GAN batch size; ``None`` takes the config default, cut to the number of rows when
        there are fewer. An explicit value above the number of rows is an error.
    sampling_rate_hz : float
        Sampling rate of the windows in Hz. Required: ``None`` (the default, so that the
        sampler can be built bare, as scikit-learn wants) is refused in :meth:`fit_resample`.
    units : str or sequence of str
        Units of the channels, one for all or one per channel (``"a.u."`` for signals in no
        physical unit). Required, as ``sampling_rate_hz``. Accelerations and angular rates
        are converted to g and rad/s for the GAN and the synthetic rows converted back.
    channels : sequence of str or None, default=None
        Channel names (see :meth:`ConditionalGAN.fit`).
    gravity : bool or None, default=None
        Whether the accelerometer channels include gravity; required with
        ``generator="kinematic"``.
    placement : str or None, default=None
        Where the sensor is worn (see :meth:`ConditionalGAN.fit`); ``None``: not stated.
    config : str, Path, GANConfig or None, default=None
        The GAN config to start from: a TOML file, or one bundled with imusynth by name
        (``"watch_cgan.toml"``, the tuned default of ``imusynth train``: 3600 steps of the
        kinematic generator with spectral and repetition critics), or a config object.
        ``None``: the :class:`~imusynth.train.config.GANConfig` dataclass defaults, a plain
        conv1d GAN of 1000 steps. The parameters above and ``overrides`` are laid over it.
    overrides : dict or None, default=None
        Further config values as ``{"section.key": value}``, the keys of
        ``imusynth train --set`` (for example ``{"model.g_width": 64, "train.loss":
        "bce"}``). The keys of the parameters above, ``train.seed`` (use
        ``random_state``) and the ``data`` section are refused.
    device : str, default="cpu"
        Torch device to train on (``"cpu"``, ``"cuda"`` or ``"auto"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the GAN's weights, its training and the generated windows: the same integer
        gives the same output (on the CPU; GPU kernels need not be bitwise reproducible).
        ``None`` draws the seeds from numpy's global generator, as scikit-learn does.

    Attributes
    ----------
    sampling_strategy_ : dict
        Class label -> number of windows added.
    window_shape_ : tuple of (int, int)
        The ``(C, T)`` the windows were read as.
    gan_ : ConditionalGAN or None
        The GAN of the last :meth:`fit_resample` (its ``classes_`` are the positions of
        the labels in ``np.unique(y)``); ``None`` when nothing had to be added.
    n_features_in_ : int
        ``C * T``.
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame with string column names.

    See Also
    --------
    imusynth.gan.ConditionalGAN : the GAN trained here.
    imusynth.gan.balance : the same top-up with a GAN trained beforehand.

    Notes
    -----
    Sparse input is accepted for imbalanced-learn compatibility but densified: windows of
    sensor signals are dense. A DataFrame's or list's type is kept, as imbalanced-learn's
    samplers do; 3-D input gives a 3-D ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6, 32)).astype(np.float32)  # 40 windows (N, C, T)
    >>> y = np.array([0] * 32 + [1] * 8)
    >>> sampler = CGANOverSampler(window_shape=(6, 32), steps=2, batch_size=16, random_state=0,
    ...                           sampling_rate_hz=50.0, units=("g",) * 3 + ("rad/s",) * 3)
    >>> X_res, y_res = sampler.fit_resample(X.reshape(40, -1), y)  # flattened (N, C * T)
    >>> X_res.shape, np.bincount(y_res).tolist(), int(sampler.sampling_strategy_[1])
    ((64, 192), [32, 32], 24)
    >>> bool(np.array_equal(X_res[:40], X.reshape(40, -1)))
    True
    >>> sampler.fit_resample(X, y)[0].shape  # windows in, windows out
    (64, 6, 32)

    In a pipeline, with subject-wise cross-validation (the GAN sees training folds only):

    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GroupKFold, cross_validate
    >>> pipe = make_pipeline(sampler, LogisticRegression())
    >>> subjects = np.arange(40) % 4
    >>> scores = cross_validate(pipe, X.reshape(40, -1), y, groups=subjects, cv=GroupKFold(2))
    >>> len(scores["test_score"])
    2
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOverSampler._parameter_constraints,
        "generator": [StrOptions({"conv1d", "kinematic"}), None],
        "window_shape": ["array-like", None],
        "steps": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "sampling_rate_hz": [Interval(Real, 0, None, closed="neither"), None],
        "units": [str, "array-like", None],
        "channels": ["array-like", None],
        "gravity": ["boolean", None],
        "placement": [str, None],
        "config": [str, Path, GANConfig, None],
        "overrides": [dict, None],
        "device": [str],
    }

    # imbalanced-learn's own parameter: its samplers' __init__ only stores it, as here.
    sampling_strategy: Any = "auto"
    generator: str | None = None
    window_shape: tuple[int, int] | None = None
    steps: int | None = None
    batch_size: int | None = None
    sampling_rate_hz: float | None = None
    units: str | tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    gravity: bool | None = None
    placement: str | None = None
    config: str | Path | GANConfig | None = None
    overrides: dict[str, Any] | None = None
    device: str = "cpu"
    random_state: Any = None

    def fit(self, X: Any, y: Any) -> CGANOverSampler:
        """Check the inputs and find ``sampling_strategy_``; use :meth:`fit_resample`.

        Parameters
        ----------
        X : array-like of shape (n_samples, C * T) or (n_samples, C, T)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : CGANOverSampler
        """
        X, shape = _flatten_windows(X)
        super().fit(X, y)
        self.window_shape_ = self._resolve_window_shape(self.n_features_in_, shape)
        self._data_params(self.window_shape_[0])
        return self

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Train the GAN on ``(X, y)`` and append its windows to them.

        Parameters
        ----------
        X : {array-like, DataFrame, sparse matrix} of shape (n_samples, C * T), or \
array-like of shape (n_samples, C, T)
            Windows in physical units.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        X_resampled : same type as ``X``, of shape (n_samples_new, ...)
            ``X`` unchanged, then the synthetic windows (in ``X``'s dtype when floating).
        y_resampled : same type as ``y``, of shape (n_samples_new,)
        """
        X, shape = _flatten_windows(X)
        X_res, y_res = super().fit_resample(X, y, _window_shape=shape)
        if shape is not None:
            X_res = X_res.reshape(len(X_res), *shape)  # (N', C * T) -> (N', C, T)
        return X_res, y_res

    def _check_X_y(self, X: Any, y: Any, accept_sparse: Any = None) -> tuple[Any, Any, bool]:
        X, y, binarize_y = super()._check_X_y(X, y, accept_sparse=accept_sparse)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)  # generated values are not integers
        return X, y, binarize_y

    def _fit_resample(
        self, X: Any, y: np.ndarray, _window_shape: tuple[int, int] | None = None
    ) -> tuple[Any, np.ndarray]:
        n_channels, length = self.window_shape_ = self._resolve_window_shape(
            X.shape[1], _window_shape
        )
        config = self._config()
        data_params = self._data_params(n_channels)
        labels, codes = np.unique(y, return_inverse=True)
        need = {
            str(code): int(self.sampling_strategy_.get(label, 0))
            for code, label in enumerate(labels)
        }
        need = {code: n for code, n in need.items() if n > 0}
        self.gan_ = None
        if not need:
            return X, y
        n_rows = X.shape[0]
        dense = X.toarray() if sparse.issparse(X) else X
        rng = check_random_state(self.random_state)
        train_seed, sample_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=2))
        batch_size = self.batch_size
        if batch_size is None:
            batch_size = min(config.train.batch_size, n_rows)
        gan = ConditionalGAN(
            config=config,
            generator=self.generator,
            steps=self.steps,
            batch_size=batch_size,
            seed=train_seed,
            device=self.device,
        )
        gan.fit(dense.reshape(n_rows, n_channels, length), codes, **data_params)  # (N, C, T)
        X_new, y_codes = gan.sample(n_per_class=need, seed=sample_seed)
        X_new = X_new.reshape(len(X_new), -1).astype(X.dtype, copy=False)  # (M, C * T)
        self.gan_ = gan
        y_res = np.concatenate([y, labels[y_codes]])
        if sparse.issparse(X):
            return sparse.vstack([X, sparse.csr_matrix(X_new)], format=X.format), y_res
        return np.concatenate([X, X_new]), y_res

    def _data_params(self, n_channels: int) -> dict[str, Any]:
        """What the windows are, for :meth:`ConditionalGAN.fit`; checked before training."""
        units = self.units
        if units is not None and not isinstance(units, str):
            units = tuple(units)
        array_params(
            n_channels,
            units=units,
            sampling_rate_hz=self.sampling_rate_hz,
            gravity=self.gravity,
            kinematic=self._generator_name() == "kinematic",
        )
        return {
            "channels": None if self.channels is None else tuple(self.channels),
            "units": units,
            "sampling_rate_hz": self.sampling_rate_hz,
            "gravity": self.gravity,
            "placement": self.placement,
        }

    def _generator_name(self) -> str:
        return self.generator if self.generator is not None else GANConfig().model.generator

    def _resolve_window_shape(
        self, n_features: int, from_x: tuple[int, int] | None
    ) -> tuple[int, int]:
        """``(C, T)`` from a 3-D ``X``, ``window_shape`` or the generator's needs."""
        kinematic = self._generator_name() == "kinematic"
        if self.window_shape is not None:
            shape = _check_shape(self.window_shape)
            if from_x is not None and shape != from_x:
                raise DataError(
                    f"X holds windows of shape {from_x}, window_shape says {shape}",
                    field="window_shape",
                )
            if shape[0] * shape[1] != n_features:
                raise DataError(
                    f"{shape[0]} x {shape[1]} = {shape[0] * shape[1]} values per window, "
                    f"but X has {n_features} features",
                    field="window_shape",
                )
        elif from_x is not None:
            shape = from_x
        elif self.units is not None and not isinstance(self.units, str):
            k = len(self.units)
            if k == 0 or n_features % k:
                raise DataError(
                    f"{n_features} features do not split into {k} channels, one per unit",
                    field="units",
                )
            shape = (k, n_features // k)
        elif kinematic:
            if n_features % KINEMATIC_CHANNELS:
                raise ConfigError(
                    f"the kinematic generator makes {KINEMATIC_CHANNELS}-channel windows; "
                    f"{n_features} features do not split into {KINEMATIC_CHANNELS} channels "
                    "(pass window_shape=(6, T) or use generator='conv1d')",
                    field="window_shape",
                )
            shape = (KINEMATIC_CHANNELS, n_features // KINEMATIC_CHANNELS)
        else:
            shape = (1, n_features)
        if kinematic and shape[0] != KINEMATIC_CHANNELS:
            raise ConfigError(
                f"the kinematic generator makes {KINEMATIC_CHANNELS} channels (accelerometer "
                f"in g, gyroscope in rad/s), the windows have {shape[0]}",
                field="generator",
            )
        return shape

    def _config(self) -> GANConfig:
        """The base config: ``config`` (default: the dataclass defaults) with ``overrides``
        applied (keys and types checked)."""
        if isinstance(self.config, str | Path):
            base = load_config(self.config)  # a TOML file, or a bundled one by name
        else:
            base = self.config if self.config is not None else GANConfig()
        if not self.overrides:
            return copy.deepcopy(base)
        nested: dict[str, dict[str, Any]] = to_dict(base)
        for key, value in self.overrides.items():
            section, dot, name = str(key).partition(".")
            if not dot or not name:
                raise ConfigError("expected a 'section.key' name", field=f"overrides[{key!r}]")
            if key in _PARAM_KEYS:
                raise ConfigError(
                    f"set this with the {_PARAM_KEYS[key]!r} parameter",
                    field=f"overrides[{key!r}]",
                )
            if section == "data":
                raise ConfigError(
                    "the sampler trains on the X it is given; data settings do not apply",
                    field=f"overrides[{key!r}]",
                )
            nested.setdefault(section, {})[name] = value  # over the base config's value
        try:
            config = config_from_dict(nested)
        except ConfigError as exc:
            raise ConfigError(exc.message, field=f"overrides[{exc.field!r}]") from None
        warn_deprecated(config, "overrides")
        return config


def _flatten_windows(X: Any) -> tuple[Any, tuple[int, int] | None]:
    """A 3-D array-like as ``(N, C * T)`` and its ``(C, T)``; anything else unchanged."""
    if sparse.issparse(X) or hasattr(X, "iloc") or np.ndim(X) != 3:
        return X, None
    X = np.asarray(X)
    return X.reshape(len(X), -1), (int(X.shape[1]), int(X.shape[2]))  # (N, C, T) -> (N, C*T)


def _check_shape(value: Any) -> tuple[int, int]:
    try:
        shape = tuple(value)
    except TypeError:
        shape = ()
    ok = len(shape) == 2 and all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in shape
    )
    if not ok:
        raise ConfigError(
            f"expected (channels, length), two positive integers, got {value!r}",
            field="window_shape",
        )
    return int(shape[0]), int(shape[1])

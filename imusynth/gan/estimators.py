"""scikit-learn style estimators over a run: :class:`ConditionalGAN` (windows) and
:class:`ImageGAN` (64x64 images).

Both follow the scikit-learn / imbalanced-learn conventions: ``__init__`` only stores its
keyword parameters, ``_parameter_constraints`` names their types (the ranges are the config's,
checked by :func:`~imusynth.train.config.validate_config`), everything is checked in
``fit``, fitted state ends in ``_`` (``run_``, ``classes_``), and using an unfitted estimator
raises :class:`NotFittedError`. A parameter left at ``None`` takes its
value from ``config`` (default: the config dataclasses), so each default lives in one place;
``config`` may also name a TOML file, such as the tuned default of ``imusynth train``,
``config="watch_cgan.toml"`` (bundled with imusynth).
Training, saving, loading and sampling are the run API's (:mod:`imusynth.gan.api`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from imusynth.data import ImageSet, WindowSet
from imusynth.errors import CheckpointError, ConfigError
from imusynth.gan import runs as _runs
from imusynth.gan.api import fit_run, load_run, sample_run
from imusynth.gan.arrays import (
    in_internal_units,
    in_source_units,
    refuse_with_set,
    windows_from_arrays,
)
from imusynth.gan.images import IMAGES
from imusynth.gan.modality import Modality
from imusynth.gan.windows import WINDOWS
from imusynth.train.config import GANConfig, apply_overrides, load_config, validate_config

__all__ = ["ConditionalGAN", "GANEstimator", "ImageGAN", "NotFittedError"]

_E = TypeVar("_E")

_OPTIONAL_INT = [Integral, None]
_OPTIONAL_REAL = [Real, None]
_OPTIONAL_BOOL = ["boolean", None]


def _param(section: str | None, constraints: list, default: Any = None) -> Any:
    """An estimator parameter, declared once: a dataclass field with its default (``None``:
    the config's), the config section it overrides (``None``: not a config key) and its
    scikit-learn constraints, which :func:`_estimator` gathers into the class's tables."""
    return dataclasses.field(
        default=default, metadata={"section": section, "constraints": constraints}
    )


def _estimator(cls: type[_E]) -> type[_E]:
    """Make ``cls`` a ``dataclass(repr=False, eq=False, kw_only=True)`` and set its
    ``_param_sections`` (parameter -> config section) and ``_parameter_constraints`` from the
    fields' :func:`_param` declarations."""
    cls = dataclasses.dataclass(repr=False, eq=False, kw_only=True)(cls)
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    for f in params:
        if "constraints" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name}: declare estimator parameters with _param")
    cls._param_sections = {  # type: ignore[attr-defined]
        f.name: f.metadata["section"] for f in params if f.metadata["section"]
    }
    cls._parameter_constraints = {  # type: ignore[attr-defined]
        f.name: f.metadata["constraints"] for f in params
    }
    return cls


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """A GAN estimator used before ``fit``: scikit-learn's ``NotFittedError``, and a
    ``RuntimeError`` as the estimators raised before."""


@_estimator
class GANEstimator(BaseEstimator):
    """What :class:`ConditionalGAN` and :class:`ImageGAN` share, parameters included.

    A dataclass (made by :func:`_estimator`) whose fields are the parameters both estimators
    take, each declared once with :func:`_param`; a subclass (decorated the same way) adds
    its own fields after them, sets ``_modality`` and builds its training set from arrays in
    ``fit``. The generated ``__init__`` only stores the parameters, and repr, equality and
    ``get_params`` stay scikit-learn's.
    """

    _modality: ClassVar[Modality]
    _param_sections: ClassVar[Mapping[str, str]]
    _parameter_constraints: ClassVar[dict[str, list]]

    config: GANConfig | str | Path | None = _param(None, [GANConfig, str, Path, None])
    generator: str | None = _param("model", [str, None])
    latent_dim: int | None = _param("model", _OPTIONAL_INT)
    loss: str | None = _param("train", [str, None])
    steps: int | None = _param("train", _OPTIONAL_INT)
    batch_size: int | None = _param("train", _OPTIONAL_INT)
    lr_g: float | None = _param("train", _OPTIONAL_REAL)
    lr_d: float | None = _param("train", _OPTIONAL_REAL)
    ema_decay: float | None = _param("train", _OPTIONAL_REAL)
    seed: int | None = _param("train", _OPTIONAL_INT)
    device: str | torch.device = _param(None, [str, torch.device], "auto")
    progress: bool = _param(None, ["boolean"], False)
    run_dir: str | Path | None = _param(None, [str, Path, None])

    def resolved_config(self) -> GANConfig:
        """The config these parameters describe (``config`` with non-None overrides)."""
        if isinstance(self.config, str | Path):
            cfg = load_config(self.config)  # a TOML file, or a bundled one by name
        else:
            cfg = self.config if self.config is not None else self._default_config()
        sections = {s: dataclasses.replace(getattr(cfg, s)) for s in ("model", "train", "data")}
        for key, section in self._param_sections.items():
            value = getattr(self, key)
            if value is not None:
                setattr(sections[section], key, value)
        cfg = GANConfig(**sections)
        validate_config(cfg)
        self._modality.check_config(cfg)
        return cfg

    def _default_config(self) -> GANConfig:
        return GANConfig()

    def _check_params(self) -> None:
        """The parameters' types, as a ConfigError naming the parameter."""
        params = self.get_params(deep=False)
        for name, constraints in self._parameter_constraints.items():
            try:
                validate_parameter_constraints(
                    {name: constraints}, {name: params[name]}, caller_name=type(self).__name__
                )
            except InvalidParameterError as exc:
                raise ConfigError(str(exc), field=name) from None

    def _fit_set(self, config: GANConfig, data: WindowSet) -> list[dict[str, Any]]:
        # With run_dir, fit writes a run folder and checkpoints there; a folder a killed fit
        # left (its run.json written) is resumed, after the checks that it is the same run.
        out = None if self.run_dir is None else Path(self.run_dir)
        resume = out is not None and (out / _runs.META_NAME).exists()
        run, history = fit_run(
            self._modality,
            config,
            data,
            out,
            resume=resume,
            device=self.device,
            progress=self.progress,
            plots=False,
        )
        self._set_run(run)
        return history

    def _check_fitted(self) -> None:
        if not hasattr(self, "run_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted; call fit(X, y) first")

    def _set_run(self, run: Any) -> None:
        self.run_, self.classes_ = run, np.asarray(run.classes)

    def sample(
        self,
        n_per_class: int | Mapping[str, int] = 100,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)``, ``n_per_class`` of each class (see :func:`~imusynth.gan.sample_run`):
        images in [-1, 1], windows in the units they were trained in."""
        X, y, _ = self._draw(n_per_class, seed, classes)
        return X, y

    def _draw(
        self, n_per_class: int | Mapping[str, int], seed: int, classes: Sequence[str] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(X, y, joints)`` from the fitted run, as :func:`~imusynth.gan.sample_run` gives."""
        self._check_fitted()
        return sample_run(self.run_, n_per_class, classes, seed)

    def save(self, run_dir: str | Path) -> Path:
        """Write a run folder (checkpoints, ``config.toml``, ``run.json``) that :meth:`load`
        and :func:`~imusynth.gan.load_run` read."""
        self._check_fitted()
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        _runs.write_run_files(run_dir, self.run_.config, self.run_.meta())
        self._modality.save_checkpoints(self.run_, run_dir)
        return run_dir

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Any:
        """A fitted estimator from a run folder (written by :meth:`save` or ``imusynth train``)."""
        run = load_run(run_dir, device=device)
        if run.modality is not cls._modality:
            raise CheckpointError(f"not a {cls._modality.name} GAN run", path=Path(run_dir))
        est = cls(config=run.config, device=device)
        est._set_run(run)
        return est


# ----------------------------------------------------------------------------- windows


@_estimator
class ConditionalGAN(GANEstimator):
    """A class-conditional GAN of windows ``(N, C, T)``, scikit-learn style.

    Every parameter left at ``None`` takes its default from
    :class:`~imusynth.train.config.GANConfig` (or from ``config`` when given).

    Parameters
    ----------
    config : GANConfig or str or Path, optional
        A whole config to start from, or a GAN config TOML file to read it from (a bundled
        one by name: ``"watch_cgan.toml"``, the tuned default of ``imusynth train``, 3600
        steps). Default: the :class:`~imusynth.train.config.GANConfig` dataclass defaults,
        a plain conv1d GAN of 1000 steps without the spectral and repetition critics.
    generator : {"conv1d", "kinematic"}, optional
    latent_dim : int, optional
    spectral_norm, ac_head, condition_on_side : bool, optional
    loss : {"bce", "hinge", "wgan-gp"}, optional
    steps, batch_size, n_critic : int, optional
    lr_g, lr_d, ema_decay, r1_weight, instance_noise : float, optional
    seed : int, optional
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    progress : bool
        tqdm progress bar while fitting.
    run_dir : str or Path, optional
        A run folder that ``fit`` writes as it trains (``config.toml``, ``run.json``, a
        checkpoint every ``train.checkpoint_every`` steps), so a killed fit called again
        with the same data and parameters resumes from its last checkpoint; :meth:`load`
        reads the folder of a finished fit. Default: train in memory only.

    Attributes
    ----------
    run_ : GANRun
        The trained generator and its metadata.
    classes_ : ndarray of str
    history_ : list of dict
        Metrics rows of the training loop.

    Examples
    --------
    Arrays must say their sampling rate and units (and, for the kinematic generator,
    whether the accelerometer includes gravity); samples come back in the same units:

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 6, 32)).astype(np.float32); y = np.arange(64) % 2
    >>> gan = ConditionalGAN(steps=2, batch_size=16, device="cpu").fit(
    ...     X, y, sampling_rate_hz=50.0, units=("m/s^2",) * 3 + ("deg/s",) * 3)
    >>> Xs, ys = gan.sample(n_per_class=3, seed=0)
    >>> Xs.shape, np.bincount(ys).tolist(), gan.run_.units[0], gan.run_.source_units[0]
    ((6, 6, 32), [3, 3], 'g', 'm/s^2')
    >>> ConditionalGAN(steps=2).fit(X, y)
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: sampling_rate_hz: windows given as arrays need their \
sampling rate in Hz (sampling_rate_hz=50.0)

    A :class:`~imusynth.data.WindowSet` brings all of these itself:
    ``ConditionalGAN(generator="kinematic").fit(load_windows("watch.toml"))``.
    """

    _modality = WINDOWS

    spectral_norm: bool | None = _param("model", _OPTIONAL_BOOL)
    ac_head: bool | None = _param("model", _OPTIONAL_BOOL)
    condition_on_side: bool | None = _param("model", _OPTIONAL_BOOL)
    n_critic: int | None = _param("train", _OPTIONAL_INT)
    r1_weight: float | None = _param("train", _OPTIONAL_REAL)
    instance_noise: float | None = _param("train", _OPTIONAL_REAL)

    def fit(
        self,
        X: WindowSet | np.ndarray,
        y: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        *,
        side: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        units: str | Sequence[str] | None = None,
        sampling_rate_hz: float | None = None,
        gravity: bool | None = None,
        placement: str | None = None,
    ) -> ConditionalGAN:
        """Train on a :class:`~imusynth.data.WindowSet`, or on windows ``X (N, C, T)`` with
        class codes ``y``.

        A WindowSet brings everything below itself (pass it alone). Bare arrays do not
        know their rate, units or gravity, so these must be given: a wrong guess trains
        the wrong model without a sign (:mod:`imusynth.gan.arrays`).

        Parameters
        ----------
        X : WindowSet or ndarray of shape (N, C, T)
            Windows in physical units (``units``).
        y : ndarray of shape (N,)
            Class codes 0..K-1 (arrays only).
        groups : ndarray of shape (N,), optional
            Subject ids; only checked for shape (the GAN pools subjects).
        side : ndarray of shape (N,), optional
            ``"left"``/``"right"`` per window: enables side conditioning.
        classes : sequence of str, optional
            Names of the codes (default ``"0"``, ``"1"``, ...).
        channels : sequence of str, optional
            Channel names (default ``ax, ay, az, wx, wy, wz`` for three accelerations then
            three angular rates, else ``ch0, ch1, ...``).
        units : str or sequence of str
            Required with arrays: one per channel, or one for all, e.g.
            ``("m/s^2",) * 3 + ("deg/s",) * 3``. Accelerations and angular rates are
            converted to g and rad/s for training; :meth:`sample` returns these units.
        sampling_rate_hz : float
            Required with arrays.
        gravity : bool
            Required with arrays for the kinematic generator: True when the accelerometer
            includes gravity (a raw reading, 1 g at rest), False for linear acceleration.
        placement : str, optional
            Where the sensor was worn: ``"wrist"`` (also ``""``, not stated),
            ``"upper-arm"`` (``-left``/``-right`` name the side), or another word, which
            only the ``conv1d`` generator accepts.

        Raises
        ------
        ConfigError
            A required parameter is missing (named in ``field``), a parameter is given
            beside a WindowSet, or the generator cannot model the data.
        DataError
            Bad windows or labels.
        """
        self._check_params()
        cfg = self.resolved_config()
        kinematic = cfg.model.generator == "kinematic"
        # What bare arrays must say about themselves, and a WindowSet says already.
        described = dict(
            channels=channels,
            units=units,
            sampling_rate_hz=sampling_rate_hz,
            gravity=gravity,
            placement=placement,
        )
        if isinstance(X, WindowSet):
            refuse_with_set(y=y, groups=groups, side=side, classes=classes, **described)
            ws = X
        else:
            X, y = self._modality.check_arrays(X, y, None)
            if classes is None:
                classes = tuple(str(k) for k in range(int(y.max()) + 1))
            groups = _runs.group_ids(groups, len(X))
            ws = windows_from_arrays(
                X, y, groups, side=side, classes=classes, kinematic=kinematic, **described
            )
        self.history_ = self._fit_set(cfg, in_internal_units(ws, strict=kinematic))
        return self

    def sample(
        self,
        n_per_class: int | Mapping[str, int] = 100,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        return_joints: bool = False,
    ):
        """``(X, y)``, ``n_per_class`` of each class, ``X`` in the units the training
        windows came in (see :func:`~imusynth.gan.sample_run`).

        With ``return_joints`` also the kinematic generator's joint angles (or ``None``).
        """
        X, y, joints = self._draw(n_per_class, seed, classes)
        X = in_source_units(X, self.run_)
        return (X, y, joints) if return_joints else (X, y)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> ConditionalGAN:
        """A fitted estimator from a run folder (written by :meth:`save` or ``imusynth train``)."""
        est = super().load(run_dir, device)
        est.history_ = []
        return est


# ----------------------------------------------------------------------------- images

# Without a config, the DCGAN setting of Frid-Adar et al. (non-saturating BCE loss).
_IMAGE_BASE = {"model.generator": "dcgan", "train.loss": "bce"}


@_estimator
class ImageGAN(GANEstimator):
    """A GAN of 64x64 images ``(N, 1, 64, 64)`` in [-1, 1], scikit-learn style.

    ``generator="dcgan"`` trains one unconditional DCGAN per class (Frid-Adar et al.'s best
    arm); ``"acgan"`` one AC-GAN for all classes. Parameters left at ``None`` take their
    value from ``config`` (default: :class:`~imusynth.train.config.GANConfig` with
    ``model.generator = "dcgan"`` and ``train.loss = "bce"``).

    Parameters
    ----------
    config : GANConfig or str or Path, optional
        As for :class:`ConditionalGAN` (``"ct_dcgan.toml"`` is the bundled one).
    generator : {"dcgan", "acgan"}, optional
    latent_dim, g_width, d_width : int, optional
    minibatch_std : bool, optional
    loss : {"bce", "hinge", "wgan-gp"}, optional
    steps, batch_size : int, optional
        Generator updates per GAN, and batch size.
    lr_g, lr_d, ema_decay : float, optional
    seed : int, optional
    device, progress, run_dir
        As for :class:`ConditionalGAN`: a ``run_dir`` makes a killed ``fit`` resumable.

    Attributes
    ----------
    run_ : ImageGANRun
    classes_ : ndarray of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(16, 1, 64, 64)).astype(np.float32)
    >>> y = np.arange(16) % 2
    >>> gan = ImageGAN(steps=1, batch_size=8, g_width=4, d_width=4, device="cpu").fit(X, y)
    >>> Xs, ys = gan.sample(n_per_class=2, seed=0)
    >>> Xs.shape, ys.tolist(), bool(np.abs(Xs).max() <= 1)
    ((4, 1, 64, 64), [0, 0, 1, 1], True)
    """

    _modality = IMAGES

    g_width: int | None = _param("model", _OPTIONAL_INT)
    d_width: int | None = _param("model", _OPTIONAL_INT)
    minibatch_std: bool | None = _param("model", _OPTIONAL_BOOL)

    def _default_config(self) -> GANConfig:
        return apply_overrides(GANConfig(), [f"{k}={v}" for k, v in _IMAGE_BASE.items()])

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        classes: Sequence[str] | None = None,
    ) -> ImageGAN:
        """Train on images ``X (N, 1, 64, 64)`` in [-1, 1] with class codes ``y``.

        ``groups`` (patient ids) is only checked for shape (the GANs pool patients);
        ``classes`` names the codes (default "0", "1", ...).
        """
        self._check_params()
        cfg = self.resolved_config()
        X, y = self._modality.check_arrays(X, y, None if classes is None else len(classes))
        if classes is None:
            classes = tuple(str(k) for k in range(int(y.max()) + 1))
        ims = ImageSet(
            X=X,
            y=y,
            groups=_runs.group_ids(groups, len(X)),
            classes=tuple(classes),
            channels=("intensity",),
            units=("scaled",),
            sampling_rate_hz=0.0,
        )
        self._fit_set(cfg, ims)
        return self

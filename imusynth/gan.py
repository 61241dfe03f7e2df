"""Conditional GANs of sensor windows: train, save, load, sample and balance.

Two ways in:

* the library functions the CLI wraps: :func:`train_run` (``imusynth train``),
  :func:`load_run` + :func:`sample_windows` (``imusynth sample``) and
  :func:`balance_windows` (``imusynth balance``), working on a run folder;
* :class:`ConditionalGAN`, a scikit-learn style estimator on arrays, with :func:`balance`.

The GAN trains in normalised space (a :class:`~imusynth.data.normalize.ChannelNormalizer`
fit on the training windows given to it, and only those); everything it returns is in
physical units.

A run folder holds ``checkpoint.pt`` (weights, optimisers, RNG states, config and the
metadata below), ``config.toml`` (the resolved config), ``run.json`` (normaliser, class,
channel and unit names, sampling rate, window length, sides), ``metrics.csv`` and figures;
while a run writes to it, also ``.imusynth.lock`` (:mod:`imusynth.locks`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from imusynth import _runs
from imusynth._runs import CONFIG_NAME, META_NAME, SYNTHETIC_GROUP  # noqa: F401 (kept here)
from imusynth.data import WindowSet, concatenate, load_windows, read_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.locks import folder_lock
from imusynth.runtime import apply_thread_policy, resolve_device
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.checkpoint import load_checkpoint, load_state, save_checkpoint
from imusynth.train.config import IMAGE_GENERATORS, GANConfig, validate_config
from imusynth.train.loop import (
    CHECKPOINT_NAME,
    Callback,
    GANTrainingState,
    check_train_setup,
    epoch_loader,
    fit_gan,
)

__all__ = [
    "SIDES",
    "ConditionalGAN",
    "GANRun",
    "balance",
    "balance_windows",
    "load_run",
    "load_training_windows",
    "sample_run",
    "sample_windows",
    "train_run",
]

log = logging.getLogger(__name__)

SIDES = ("left", "right")  # side codes 0 and 1 of a side-conditional generator


@dataclass
class GANRun:
    """A trained generator with everything needed to turn its output into windows.

    Attributes
    ----------
    config : GANConfig
    generator : nn.Module
        The EMA generator, in eval mode.
    normalizer : ChannelNormalizer
        Fit on the training windows; maps generator output to physical units.
    classes, channels, units : tuple of str
    sampling_rate_hz : float
    length : int
        Window length in samples.
    sides : tuple of str
        ``SIDES`` if the generator is side-conditional, else ``()``.
    side_freq : ndarray (K, len(sides))
        Fraction of each class's training windows from each side (sampling draws from it).
    step : int
        Training steps done.
    run_dir : Path or None
    """

    config: GANConfig
    generator: nn.Module
    normalizer: ChannelNormalizer
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float
    length: int
    sides: tuple[str, ...] = ()
    side_freq: np.ndarray | None = None
    step: int = 0
    run_dir: Path | None = None

    @property
    def joint_names(self) -> tuple[str, ...] | None:
        names = getattr(self.generator, "joint_names", None)
        return tuple(names) if names is not None else None

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def meta(self) -> dict[str, Any]:
        """Plain values for the checkpoint and ``run.json``."""
        return {
            "normalizer": self.normalizer.to_dict(),
            "classes": list(self.classes),
            "channels": list(self.channels),
            "units": list(self.units),
            "sampling_rate_hz": float(self.sampling_rate_hz),
            "length": int(self.length),
            "sides": list(self.sides),
            "side_freq": None if self.side_freq is None else self.side_freq.tolist(),
        }


# ----------------------------------------------------------------------------- training


def load_training_windows(config: GANConfig, data: str | Path | None = None) -> WindowSet:
    """The windows a config trains on: ``data`` (an HDF5 windows file) if given, else
    ``config.data.windows`` if set, else the spec ``config.data.spec``."""
    path = data or config.data.windows
    if path:
        return read_windows(path)
    return load_windows(config.data.spec, length=config.data.length, stride=config.data.stride)


def train_run(
    config: GANConfig,
    windows: WindowSet,
    out_dir: str | Path | None,
    *,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    plots: bool = True,
) -> GANRun:
    """Train a conditional GAN on ``windows`` and write the run folder ``out_dir``.

    Images ``(N, 1, 64, 64)`` (or ``model.generator`` ``"dcgan"`` / ``"acgan"``) are
    trained by :func:`imusynth.gan2d.train_image_run` instead, which returns an
    :class:`~imusynth.gan2d.ImageGANRun`.

    Parameters
    ----------
    config : GANConfig
    windows : WindowSet
        Training windows in physical units (real rows only are used).
    out_dir : str or Path or None
        The run folder (created); ``None`` trains in memory only. The config, the data and
        the device settings are checked before anything is written there, and the folder is
        locked while the run writes to it (a second writer gets a
        :class:`~imusynth.errors.LockError`).
    resume : bool
        Continue a killed run in ``out_dir`` (same data and config). A run killed before its
        first checkpoint starts again from step 0.
    device : str or torch.device
    progress : bool
        tqdm progress bar.
    callbacks : sequence of Callback
        Extra hooks for :func:`~imusynth.train.loop.fit_gan`.
    plots : bool
        Draw real vs synthetic figures (every ``train.sample_every`` steps and at the end)
        into ``out_dir``.

    Examples
    --------
    >>> from imusynth.train.config import load_config
    >>> cfg = load_config("experiments/watch_cgan.toml", ["train.steps=2"])  # doctest: +SKIP
    >>> run = train_run(cfg, load_training_windows(cfg), "runs/tiny")  # doctest: +SKIP
    """
    validate_config(config)
    apply_thread_policy()  # the CLI's thread policy (imusynth.runtime)
    if windows.X.ndim == 4 or config.model.generator in IMAGE_GENERATORS:
        from imusynth.gan2d import train_image_run

        return train_image_run(  # type: ignore[return-value]
            config,
            windows,
            out_dir,
            resume=resume,
            device=device,
            progress=progress,
            callbacks=callbacks,
            plots=plots,
        )
    ws = windows.subset(~windows.is_synthetic) if windows.is_synthetic.any() else windows
    run, (Z, y, side) = _prepare(config, ws, device)
    check_train_setup(config.train, run.device)  # before the run folder is touched
    extra: list[Callback] = list(callbacks)
    with contextlib.ExitStack() as stack:
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(out_dir, "run folder"))
            if resume:
                _check_resume_meta(out_dir, run)
            _runs.write_run_files(out_dir, config, run.meta())
            if plots:
                from imusynth.plots.gan import plot_real_vs_synthetic
                from imusynth.train.callbacks import SamplePlotCallback

                extra.append(
                    SamplePlotCallback(
                        ws.X,
                        ws.y,
                        ws.classes,
                        ws.channels,
                        ws.units,
                        run.normalizer,
                        out_dir,
                        draw=plot_real_vs_synthetic,
                        every=config.train.sample_every,
                        sampling_rate_hz=ws.sampling_rate_hz,
                        seed=config.train.seed,
                    )
                )
        _fit(config, run, Z, y, side, extra, out_dir, resume, progress)
    run.run_dir = out_dir
    return run


def _prepare(
    config: GANConfig, ws: WindowSet, device: str | torch.device
) -> tuple[GANRun, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    X, y = _check_windows(ws.X, ws.y, ws.n_classes)
    if len(X) < config.train.batch_size:
        raise DataError(
            f"{len(X)} training windows, fewer than one batch of {config.train.batch_size}",
            field="train.batch_size",
        )
    side = _side_codes(ws.side) if config.model.condition_on_side else None
    norm = ChannelNormalizer().fit(X)
    Z = norm.transform(X)
    n_sides = len(SIDES) if side is not None else 0
    side_freq = None
    if side is not None:
        counts = np.zeros((ws.n_classes, n_sides))
        np.add.at(counts, (y, side), 1.0)
        totals = counts.sum(1, keepdims=True)
        side_freq = np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / n_sides)
    n_channels, length = X.shape[1], X.shape[2]
    if config.model.generator == "kinematic":
        _check_kinematic_channels(ws.channels, ws.units)
    generator = build_generator(
        config.model,
        n_channels,
        length,
        ws.n_classes,
        n_sides=n_sides,
        sampling_rate_hz=ws.sampling_rate_hz,
        channel_mean=norm.mean_,
        channel_scale=norm.scale_,
        sensor_noise_std=fast_variation(Z) if config.model.sensor_noise_taps else None,
        seed=config.train.seed,
    ).to(resolve_device(device))
    run = GANRun(
        config=config,
        generator=generator,
        normalizer=norm,
        classes=tuple(ws.classes),
        channels=tuple(ws.channels),
        units=tuple(ws.units),
        sampling_rate_hz=float(ws.sampling_rate_hz),
        length=length,
        sides=SIDES if n_sides else (),
        side_freq=side_freq,
    )
    return run, (Z, y, side)


def fast_variation(Z: np.ndarray) -> np.ndarray:
    """Per-channel std of sample-to-sample differences over ``sqrt(2)``, ``(C,)``.

    For a smooth signal plus white noise this estimates the noise's std; for the watch
    data it measures the fast content (strap wobble, tremor, sensor noise) that the
    kinematic generator's sensor-noise stage starts from. ``Z``: ``(N, C, T)`` normalised
    training windows.
    """
    d = np.diff(np.asarray(Z, dtype=np.float64), axis=2)  # (N, C, T-1)
    return (d.std(axis=(0, 2)) / np.sqrt(2.0)).astype(np.float32)


def _fit(
    config: GANConfig,
    run: GANRun,
    Z: np.ndarray,
    y: np.ndarray,
    side: np.ndarray | None,
    callbacks: Sequence[Callback],
    out_dir: Path | None,
    resume: bool,
    progress: bool,
) -> GANTrainingState:
    discriminator = build_discriminator(
        config.model,
        Z.shape[1],
        len(run.classes),
        n_sides=len(run.sides),
        seed=config.train.seed,
    )
    tensors = [Z, y] + ([side] if side is not None else [])
    loader = epoch_loader(*tensors, batch_size=config.train.batch_size, seed=config.train.seed)
    state = fit_gan(
        run.generator,
        discriminator,
        loader,
        config,
        callbacks,
        device=run.device,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        meta=run.meta(),
    )
    run.generator = state.ema.eval()
    run.step = state.step
    return state


def _check_windows(X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 3:
        raise DataError(f"expected windows (N, C, T), got shape {X.shape}", field="X")
    if y.shape != (len(X),):
        raise DataError(f"expected {len(X)} labels, got shape {y.shape}", field="y")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError("labels must be integer class codes", field="y")
    if len(X) == 0:
        raise DataError("no training windows", field="X")
    if not np.all(np.isfinite(X)):
        raise DataError("NaN or Inf in training windows", field="X")
    _runs.check_label_range(y, n_classes)
    return X, y.astype(np.int64)


def _side_codes(side: np.ndarray | None) -> np.ndarray | None:
    """Codes 0/1 for left/right, or None when the data does not say for every window."""
    if side is None:
        return None
    side = np.asarray(side).astype(str)
    if not np.isin(side, SIDES).all():
        return None
    return np.searchsorted(np.array(SIDES), side).astype(np.int64)


def _check_kinematic_channels(channels: Sequence[str], units: Sequence[str]) -> None:
    expected = ("g", "g", "g", "rad/s", "rad/s", "rad/s")
    if tuple(units) != expected:
        raise ConfigError(
            f"the kinematic generator makes 3 accelerometer channels in g then 3 gyroscope "
            f"channels in rad/s; the data has {list(channels)} in {list(units)}",
            field="model.generator",
        )


# ----------------------------------------------------------------------------- run folders


def _check_resume_meta(run_dir: Path, run: GANRun) -> None:
    _runs.check_resume_meta(
        run_dir,
        run.meta(),
        ("classes", "channels", "length", "sides", "normalizer"),
        differ="the training data differ from the run being resumed",
    )


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> GANRun:
    """Rebuild a trained run's EMA generator and metadata from its folder.

    An image run gives an :class:`~imusynth.gan2d.ImageGANRun`
    (:func:`imusynth.gan2d.load_image_run`).

    Raises
    ------
    CheckpointError
        Missing, corrupt or incompatible checkpoint.

    Examples
    --------
    >>> run = load_run("runs/demo")  # doctest: +SKIP
    >>> X, y, joints = sample_run(run, per_class=10, seed=0)  # doctest: +SKIP
    """
    run_dir = _runs.existing_run_dir(run_dir)
    from imusynth.gan2d import is_image_run, load_image_run

    if is_image_run(run_dir):
        return load_image_run(run_dir, device)  # type: ignore[return-value]
    path = run_dir / CHECKPOINT_NAME
    dev = resolve_device(device)
    ckpt = load_checkpoint(path, map_location=dev)
    run = _run_from_checkpoint(ckpt, path, dev)
    run.run_dir = run_dir
    return run


def _run_from_checkpoint(ckpt: dict[str, Any], path: Path | None, dev: torch.device) -> GANRun:
    config = _runs.stored_config(ckpt, path)
    meta = ckpt.get("meta") or {}
    try:
        norm = ChannelNormalizer.from_dict(meta["normalizer"])
        classes, channels = tuple(meta["classes"]), tuple(meta["channels"])
        units, fs = tuple(meta["units"]), float(meta["sampling_rate_hz"])
        length, sides = int(meta["length"]), tuple(meta.get("sides") or ())
        side_freq = meta.get("side_freq")
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata lacks {exc}", path=path, field="meta") from None
    generator = build_generator(
        config.model,
        len(channels),
        length,
        len(classes),
        n_sides=len(sides),
        sampling_rate_hz=fs,
        channel_mean=norm.mean_,
        channel_scale=norm.scale_,
        seed=config.train.seed,
    )
    load_state(generator, ckpt["ema"], name="ema", path=path)
    return GANRun(
        config=config,
        generator=generator.to(dev).eval(),
        normalizer=norm,
        classes=classes,
        channels=channels,
        units=units,
        sampling_rate_hz=fs,
        length=length,
        sides=sides,
        side_freq=None if side_freq is None else np.asarray(side_freq, dtype=np.float64),
        step=int(ckpt["step"]),
    )


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def _generate(
    run: GANRun, codes: np.ndarray, seed: int, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Windows (physical units), side codes and joint angles for class ``codes``."""
    G, dev = run.generator, run.device
    n = len(codes)
    # One draw of all the noise up front: the result does not depend on batch_size.
    gen = torch.Generator(device=dev).manual_seed(seed)
    z = torch.randn(n, G.latent_dim, generator=gen, device=dev)
    side = None
    if run.sides:
        u = torch.rand(n, generator=gen, device=dev).cpu().numpy()
        p_left = np.asarray(run.side_freq)[codes, 0] if run.side_freq is not None else 0.5
        side = (u >= p_left).astype(np.int64)  # 0 = left with the class's training frequency
    y = torch.as_tensor(codes, device=dev)
    with_joints = hasattr(G, "forward_with_joints")
    xs, qs = [], []
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        args = [y[sl] if G.num_classes else None]
        if side is not None:
            args.append(torch.as_tensor(side[sl], device=dev))
        if with_joints:
            out = G.forward_with_joints(z[sl], *args)
            xs.append(out.x.float().cpu())
            qs.append(out.joint_angles.float().cpu())
        else:
            xs.append(G(z[sl], *args).float().cpu())
    channels, length = len(run.channels), run.length
    Z = torch.cat(xs).numpy() if xs else np.zeros((0, channels, length), np.float32)
    joints = torch.cat(qs).numpy() if qs else None
    X = run.normalizer.inverse_transform(Z) if n else Z
    return X, side, joints


def sample_run(
    run: GANRun,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Generate windows in physical units.

    Parameters
    ----------
    run : GANRun
    per_class : int or mapping of class name to count
        How many windows of each class (an int applies to every class in ``classes``).
    classes : sequence of str, optional
        Restrict to these classes (default: all the run knows).
    seed : int
        The same seed gives the same windows.

    Returns
    -------
    X : ndarray (N, C, T) float32
        Physical units, classes in the run's order.
    y : ndarray (N,) int64
        Codes into ``run.classes``.
    joint_angles : ndarray (N, J, T) float32 or None
        Joint angles [rad] of the kinematic generator (names: ``run.joint_names``).

    Examples
    --------
    >>> X, y, q = sample_run(load_run("runs/demo"), {"ABD": 5, "IR": 3})  # doctest: +SKIP
    """
    codes = _runs.class_codes(run.classes, per_class, classes)
    X, _, joints = _generate(run, codes, seed)
    return X, codes, joints


def sample_windows(
    run: GANRun,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> WindowSet:
    """:func:`sample_run` as a :class:`WindowSet` flagged ``is_synthetic`` (for HDF5 files).

    For an image run, an :class:`~imusynth.data.ImageSet` of images in [-1, 1].
    """
    if not isinstance(run, GANRun):
        from imusynth.gan2d import sample_images

        return sample_images(run, per_class, classes, seed)
    codes = _runs.class_codes(run.classes, per_class, classes)
    X, side, joints = _generate(run, codes, seed)
    return _synthetic_set(run, X, codes, side, joints)


def _synthetic_set(run: GANRun, X, codes, side, joints) -> WindowSet:
    return WindowSet(
        **_runs.synthetic_fields(run, X, codes),
        sampling_rate_hz=run.sampling_rate_hz,
        side=np.array(SIDES)[side] if side is not None else np.full(len(codes), ""),
        joint_angles=joints,
        joint_names=run.joint_names if joints is not None else None,
    )


def balance_windows(ws: WindowSet, run: GANRun, seed: int = 0) -> WindowSet:
    """Top every class of ``ws`` up to its largest class's count with synthetic windows.

    Real rows come first and are kept unchanged; synthetic rows are appended with
    ``is_synthetic`` set and group ``"synthetic"``.

    Raises
    ------
    DataError
        ``ws`` has channels, units, window length or classes the run does not know.

    Examples
    --------
    >>> balanced = balance_windows(read_windows("w.h5"), load_run("runs/demo"))  # doctest: +SKIP
    """
    if not isinstance(run, GANRun):
        from imusynth.gan2d import balance_images

        return balance_images(ws, run, seed)
    _check_compatible(ws, run)
    codes = _runs.class_codes(run.classes, _runs.shortfall(ws.y, ws.classes), None)
    X, side, joints = _generate(run, codes, seed)
    fake = _synthetic_set(run, X, codes, side, joints)
    # Re-code into the real set's class order.
    fake = dataclasses.replace(
        fake, y=_runs.recode(run.classes, ws.classes)[fake.y], classes=ws.classes
    )
    if ws.joint_angles is None:
        fake.joint_angles, fake.joint_names = None, None
    if ws.recording is not None:
        fake.recording = np.full(len(fake), -1, dtype=np.int64)
    return concatenate([ws, fake])


def _check_compatible(ws: WindowSet, run: GANRun) -> None:
    if tuple(ws.channels) != run.channels:
        raise DataError(
            f"channels {list(ws.channels)} differ from the run's {list(run.channels)}",
            field="channels",
        )
    if tuple(ws.units) != run.units:
        raise DataError(f"units {list(ws.units)} differ from the run's", field="units")
    if ws.X.ndim != 3 or ws.X.shape[-1] != run.length:
        raise DataError(
            f"windows of shape {ws.X.shape[1:]}, the run makes ({len(run.channels)}, {run.length})",
            field="X",
        )
    if abs(ws.sampling_rate_hz - run.sampling_rate_hz) > 1e-9:
        raise DataError(
            f"sampling rate {ws.sampling_rate_hz} Hz, the run's is {run.sampling_rate_hz} Hz",
            field="sampling_rate_hz",
        )
    _runs.check_known_classes(ws.classes, run.classes)


# ----------------------------------------------------------------------------- estimator

# Estimator parameter -> config section; the defaults live in the config dataclasses only.
_PARAM_SECTIONS = {
    "generator": "model",
    "latent_dim": "model",
    "spectral_norm": "model",
    "ac_head": "model",
    "condition_on_side": "model",
    "loss": "train",
    "steps": "train",
    "batch_size": "train",
    "n_critic": "train",
    "lr_g": "train",
    "lr_d": "train",
    "ema_decay": "train",
    "r1_weight": "train",
    "instance_noise": "train",
    "seed": "train",
}


class ConditionalGAN(_runs.RunEstimator):
    """A class-conditional GAN of windows ``(N, C, T)``, scikit-learn style.

    Every parameter left at ``None`` takes its default from
    :class:`~imusynth.train.config.GANConfig` (or from ``config`` when given).

    Parameters
    ----------
    config : GANConfig, optional
        A whole config to start from.
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

    Attributes
    ----------
    run_ : GANRun
        The trained generator and its metadata.
    classes_ : ndarray of str
    history_ : list of dict
        Metrics rows of the training loop.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 6, 32)).astype(np.float32); y = np.arange(64) % 2
    >>> gan = ConditionalGAN(steps=2, batch_size=16, device="cpu").fit(X, y)
    >>> Xs, ys = gan.sample(n_per_class=3, seed=0)
    >>> Xs.shape, np.bincount(ys).tolist()
    ((6, 6, 32), [3, 3])
    """

    _param_sections = _PARAM_SECTIONS
    _estimator_name = "ConditionalGAN"

    def __init__(
        self,
        *,
        config: GANConfig | None = None,
        generator: str | None = None,
        latent_dim: int | None = None,
        spectral_norm: bool | None = None,
        ac_head: bool | None = None,
        condition_on_side: bool | None = None,
        loss: str | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        n_critic: int | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
        ema_decay: float | None = None,
        r1_weight: float | None = None,
        instance_noise: float | None = None,
        seed: int | None = None,
        device: str = "auto",
        progress: bool = False,
    ) -> None:
        self._store(locals())

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        side: np.ndarray | None = None,
        classes: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        sampling_rate_hz: float = 50.0,
    ) -> ConditionalGAN:
        """Train on windows ``X (N, C, T)`` in physical units with class codes ``y``.

        ``groups`` (subject ids) is only checked for shape (the GAN pools subjects);
        ``side`` ("left"/"right" per window) enables side conditioning; ``classes``,
        ``channels`` and ``units`` name the codes and channels (defaults: "0", "1", ... and
        the watch's ax..wz in g and rad/s for 6 channels).
        """
        cfg = self.resolved_config()
        apply_thread_policy()  # the CLI's thread policy (imusynth.runtime)
        X, y = _check_windows(X, y, None)
        n_classes = int(y.max()) + 1
        if classes is None:
            classes = tuple(str(k) for k in range(n_classes))
        groups = _runs.group_ids(groups, len(X))
        if channels is None:
            watch = X.shape[1] == 6
            channels = (
                ("ax", "ay", "az", "wx", "wy", "wz")
                if watch
                else tuple(f"ch{i}" for i in range(X.shape[1]))
            )
            units = units or (("g",) * 3 + ("rad/s",) * 3 if watch else ("",) * X.shape[1])
        ws = WindowSet(
            X=X,
            y=y,
            groups=groups,
            classes=tuple(classes),
            channels=tuple(channels),
            units=tuple(units or ("",) * len(channels)),
            sampling_rate_hz=sampling_rate_hz,
            side=side,
        )
        run, (Z, yy, sd) = _prepare(cfg, ws, self.device)
        state = _fit(cfg, run, Z, yy, sd, (), None, False, self.progress)
        self._set_run(run)
        self.history_ = state.history
        self._checkpoint = state.checkpoint
        return self

    def sample(
        self,
        n_per_class: int | Mapping[str, int] = 100,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        return_joints: bool = False,
    ):
        """``(X, y)`` windows in physical units, ``n_per_class`` of each class.

        With ``return_joints`` also the kinematic generator's joint angles (or ``None``).
        """
        self._check_fitted()
        X, y, joints = sample_run(self.run_, n_per_class, classes, seed)
        return (X, y, joints) if return_joints else (X, y)

    def save(self, run_dir: str | Path) -> Path:
        """Write a run folder (checkpoint, config, metadata) that :meth:`load` and
        :func:`load_run` read."""
        return self._save_run_folder(run_dir)

    def _save_checkpoints(self, run_dir: Path) -> None:
        save_checkpoint(run_dir / CHECKPOINT_NAME, self._checkpoint())

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> ConditionalGAN:
        """A fitted estimator from a run folder (written by :meth:`save` or ``imusynth train``)."""
        path = Path(run_dir) / CHECKPOINT_NAME
        ckpt = load_checkpoint(path, map_location=resolve_device(device))
        run = _run_from_checkpoint(ckpt, path, resolve_device(device))
        run.run_dir = Path(run_dir)
        est = cls._from_run(run, device)
        est.history_ = []
        est._checkpoint = lambda: ckpt
        return est


def balance(
    X: np.ndarray,
    y: np.ndarray,
    gan: ConditionalGAN,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top every class of ``(X, y)`` up to the largest class with ``gan``'s windows.

    Returns ``(X_balanced, y_balanced, is_synthetic)``; the real rows come first, unchanged.
    ``y`` holds codes into ``gan.classes_``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(48, 6, 32)).astype(np.float32); y = np.array([0] * 40 + [1] * 8)
    >>> gan = ConditionalGAN(steps=2, batch_size=16, device="cpu").fit(X, y)
    >>> Xb, yb, synth = balance(X, y, gan)
    >>> np.bincount(yb).tolist(), int(synth.sum())
    ([40, 40], 32)
    """
    gan._check_fitted()
    X, y = _check_windows(X, y, len(gan.classes_))
    Xs, ys, _ = sample_run(gan.run_, _runs.shortfall(y, gan.run_.classes), None, seed)
    flags = np.r_[np.zeros(len(X), bool), np.ones(len(Xs), bool)]
    return np.concatenate([X, Xs]), np.concatenate([y, ys]), flags

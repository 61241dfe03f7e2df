"""The window modality: conditional GANs of sensor windows ``(N, C, T)``.

The GAN trains in normalised space (a :class:`~imusynth.data.normalize.ChannelNormalizer`
fit on the training windows given to it, and only those); everything it returns is in
physical units. Training, loading, sampling and balancing go through the run API of
:mod:`imusynth.gan` (:func:`~imusynth.gan.train_run`, :func:`~imusynth.gan.load_run`,
:func:`~imusynth.gan.sample`, :func:`~imusynth.gan.balance`), which hands the parts that are
particular to windows to :data:`WINDOWS`: the data checks, the normaliser, side codes and
networks, rebuilding the generator from a checkpoint, and generating.

A run folder holds ``checkpoint.pt`` (weights, optimisers, RNG states, config and the
metadata below), ``config.toml`` (the resolved config), ``run.json`` (normaliser, class,
channel and unit names, the user's units before conversion, sampling rate, window length,
sides, whether the accelerometer data include gravity, the sensor placement),
``metrics.csv`` (with the kinematic generator also its residual share, see
:mod:`imusynth.gan.residual`) and figures; while a run writes to it, also
``.imusynth.lock`` (:mod:`imusynth.locks`). A run loaded back generates as it was trained:
with gravity or without, on the wrist or the upper arm (checkpoints from before these were
stored: with gravity, on the wrist).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from imusynth.data import WindowSet, load_windows, read_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.data.splits import split_by_subject
from imusynth.errors import CheckpointError, DataError
from imusynth.gan import runs as _runs
from imusynth.gan.checks import check_generator_data
from imusynth.gan.modality import Generated, Modality, TrainingJob
from imusynth.gan.residual import ResidualShareCallback
from imusynth.gan.selection import BEST_NAME, ValidationSelector
from imusynth.runtime import resolve_device
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.checkpoint import load_checkpoint, load_state, save_checkpoint
from imusynth.train.config import GANConfig
from imusynth.train.loaders import class_weights
from imusynth.train.loop import (
    CHECKPOINT_NAME,
    Callback,
    GANTrainingState,
    epoch_loader,
    fit_gan,
)

__all__ = [
    "SIDES",
    "WINDOWS",
    "GANRun",
    "WindowModality",
    "check_windows",
    "fast_variation",
    "load_training_windows",
]

log = logging.getLogger(__name__)

SIDES = ("left", "right")  # side codes 0 and 1 of a side-conditional generator
MIN_GAN_SUBJECTS = 3  # checkpoint selection leaves the GAN at least this many subjects


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
    gravity : bool
        The accelerometer data include gravity (False: linear acceleration).
    placement : str
        Where the sensor was worn (``""``: not stated).
    source_units : tuple of str or None
        The units the training data came in before conversion to ``units`` (None: the
        same); :meth:`ConditionalGAN.sample` returns windows in them.
    step : int
        Training steps done (of a run with checkpoint selection: the chosen step).
    run_dir : Path or None
    validation_subjects : tuple of str
        Training subjects held out of the GAN's training data to choose its checkpoint
        (``train.select_every > 0``; see :mod:`imusynth.gan.selection`), else ``()``.
    checkpoints : list of callable
        The checkpoint dict, on demand (what :meth:`ConditionalGAN.save` writes).
    modality : WindowModality
        :data:`WINDOWS`.
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
    gravity: bool = True
    placement: str = ""
    source_units: tuple[str, ...] | None = None
    step: int = 0
    run_dir: Path | None = None
    checkpoints: list[Callable[[], dict[str, Any]]] = field(default_factory=list, repr=False)
    validation_subjects: tuple[str, ...] = ()

    @property
    def modality(self) -> WindowModality:
        return WINDOWS

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
            "gravity": bool(self.gravity),
            "placement": self.placement,
            "source_units": None if self.source_units is None else list(self.source_units),
        } | (
            {"validation_subjects": list(self.validation_subjects)}
            if self.validation_subjects
            else {}
        )


# ----------------------------------------------------------------------------- the modality


class WindowModality(Modality):
    """Windows ``(N, C, T)`` in physical units; one conditional generator per run."""

    name = "windows"
    # The same arrays told another rate, gravity or placement keep the normaliser, yet train
    # another kinematic model (an older run.json: gravity, placement not stated).
    resume_keys = ("classes", "channels", "units", "sampling_rate_hz", "length", "sides")
    resume_keys += ("gravity", "placement", "normalizer")
    resume_defaults = MappingProxyType({"gravity": True, "placement": ""})
    resume_differ = "the training data differ from the run being resumed"
    balance_checks = ("channels", "units", "shape", "sampling_rate_hz")

    def check_arrays(self, X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Training arrays checked (see :func:`check_windows`)."""
        return check_windows(X, y, n_classes)

    def prepare(
        self, config: GANConfig, data: WindowSet, device: str | torch.device
    ) -> TrainingJob:
        data, val, no_selection = validation_split(config, data)
        run, (Z, y, side) = _prepare(config, data, device)
        if val is not None:
            run.validation_subjects = tuple(sorted({str(g) for g in val.groups}))

        def fit(out_dir, resume, progress, callbacks, plots) -> list[dict[str, Any]]:
            extra: list[Callback] = list(callbacks)
            selector = plotter = None
            if no_selection:  # said when training starts, not before a refusal
                log.warning(
                    "checkpoint selection is off for these data (%s): the GAN trains on "
                    "every subject and the last step is kept",
                    no_selection,
                )
            if val is not None:
                selector = ValidationSelector(
                    val,
                    lambda G, codes, seed: _generate(
                        dataclasses.replace(run, generator=G), codes, seed
                    )[0],
                    every=config.train.select_every,
                    total_steps=config.train.steps,
                    metric=config.train.select_metric,
                    out_dir=out_dir,
                    seed=config.train.seed,
                    resume=resume,
                )
                extra.append(selector)
            if out_dir is not None and plots:
                from imusynth.plots.gan import plot_real_vs_synthetic
                from imusynth.train.callbacks import SamplePlotCallback

                plotter = SamplePlotCallback(
                    data.X,
                    data.y,
                    data.classes,
                    data.channels,
                    data.units,
                    run.normalizer,
                    out_dir,
                    draw=plot_real_vs_synthetic,
                    every=config.train.sample_every,
                    sampling_rate_hz=data.sampling_rate_hz,
                    seed=config.train.seed,
                )
                extra.append(plotter)
            history = _fit(config, run, Z, y, side, extra, out_dir, resume, progress).history
            if selector is not None:
                _keep_best(run, selector, out_dir, draw=plots)
                if plotter is not None and selector.best_step is not None:
                    # The final figure shows what the run samples: the chosen snapshot.
                    path = Path(out_dir) / "real_vs_synthetic.png"
                    plotter.draw_generator(run.generator, run.device, run.step, path)
            return history

        return TrainingJob(run=run, device=run.device, check_data=lambda: None, fit=fit)

    def load(
        self, run_dir: Path, meta: dict[str, Any] | None, device: str | torch.device
    ) -> GANRun:
        # A run with checkpoint selection samples from the snapshot chosen on its
        # validation subjects; checkpoint.pt (the last step) is for resuming.
        path = run_dir / BEST_NAME
        if not path.exists():
            path = run_dir / CHECKPOINT_NAME
        dev = resolve_device(device)
        ckpt = load_checkpoint(path, map_location=dev)
        run = _run_from_checkpoint(ckpt, path, dev)
        run.run_dir = run_dir
        if path.name == BEST_NAME:  # the chosen step of a run with checkpoint selection
            run.config = _runs.last_config(run_dir, run.config)
            run.validation_subjects = tuple((meta or {}).get("validation_subjects", ()))
        return run

    def save_checkpoints(self, run: GANRun, run_dir: Path) -> None:
        save_checkpoint(run_dir / CHECKPOINT_NAME, run.checkpoints[0]())

    def generate(self, run: GANRun, codes: np.ndarray, seed: int) -> Generated:
        return Generated(*_generate(run, codes, seed))

    def synthetic_set(self, run: GANRun, codes: np.ndarray, made: Generated) -> WindowSet:
        return WindowSet(
            **_runs.synthetic_fields(run, made.X, codes),
            sampling_rate_hz=run.sampling_rate_hz,
            side=np.array(SIDES)[made.side] if made.side is not None else np.full(len(codes), ""),
            joint_angles=made.joints,
            joint_names=run.joint_names if made.joints is not None else None,
            gravity=run.gravity,
            placement=run.placement,
        )

    def fit_to(self, fake: WindowSet, data: WindowSet, codes: np.ndarray) -> WindowSet:
        extra: dict[str, Any] = {}
        if data.joint_angles is None:
            extra.update(joint_angles=None, joint_names=None)
        if data.recording is not None:
            extra["recording"] = np.full(len(fake), -1, dtype=np.int64)
        return dataclasses.replace(fake, y=codes[fake.y], classes=data.classes, **extra)


WINDOWS = WindowModality()


# ----------------------------------------------------------------------------- training


def load_training_windows(config: GANConfig, data: str | Path | None = None) -> WindowSet:
    """The windows a config trains on: ``data`` (an HDF5 windows file) if given, else
    ``config.data.windows`` if set, else the spec ``config.data.spec``."""
    path = data or config.data.windows
    if path:
        return read_windows(path)
    return load_windows(config.data.spec, length=config.data.length, stride=config.data.stride)


def validation_split(
    config: GANConfig, ws: WindowSet
) -> tuple[WindowSet, WindowSet | None, str | None]:
    """``(training windows, validation windows or None, why not or None)``.

    With ``train.select_every > 0``, ``train.val_subjects`` subjects drawn with
    ``train.seed`` (every class on both sides) are held out of the GAN's training data to
    choose its checkpoint. Data too small for that (fewer than ``val_subjects +
    MIN_GAN_SUBJECTS`` subjects, or classes recorded by too few subjects to be on both
    sides) train on all their subjects without selection; the third item says why, and
    training warns with it: the default config must serve a small data set too.
    """
    t = config.train
    if not t.select_every:
        return ws, None, None
    n_subjects = len(np.unique(np.asarray(ws.groups).astype(str)))
    if n_subjects < t.val_subjects + MIN_GAN_SUBJECTS:
        why = (
            f"{n_subjects} subject(s), fewer than train.val_subjects ({t.val_subjects}) + "
            f"{MIN_GAN_SUBJECTS} left for the GAN"
        )
        return ws, None, why
    try:
        train, val = split_by_subject(ws, n_test=t.val_subjects, seed=t.seed)
    except DataError as exc:
        return ws, None, exc.message
    return train, val, None


def _keep_best(
    run: GANRun, selector: ValidationSelector, out_dir: Path | None, *, draw: bool
) -> None:
    """Make the snapshot chosen on the validation subjects the run's generator (and draw
    ``selection.png`` into ``out_dir`` when ``draw``)."""
    if selector.best_step is None:
        return
    best = selector.best_checkpoint
    if best is None:  # chosen before a resume: read back from best.pt
        best = load_checkpoint(Path(out_dir) / BEST_NAME, map_location=run.device)
    load_state(run.generator, best["ema"], name="ema", path=None)
    run.step = int(best["step"])
    run.checkpoints = [lambda: best]
    log.info("checkpoint chosen on the validation subjects: step %d", run.step)
    if draw and out_dir is not None and selector.rows:
        from imusynth.plots.selection import plot_selection

        plot_selection(
            selector.rows,
            run.step,
            subjects=run.validation_subjects,
            metric=selector.metric,
            path=Path(out_dir) / "selection.png",
        )


def _prepare(
    config: GANConfig, ws: WindowSet, device: str | torch.device
) -> tuple[GANRun, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    X, y = check_windows(ws.X, ws.y, ws.n_classes)
    if len(X) < config.train.batch_size:
        raise DataError(
            f"{len(X)} training windows, fewer than one batch of {config.train.batch_size}",
            field="train.batch_size",
        )
    gravity, placement = bool(ws.gravity), ws.placement
    side = None
    if config.model.condition_on_side:
        side = _side_codes(_sides(ws.side, placement, len(X)))
    norm = ChannelNormalizer().fit(X)
    Z = norm.transform(X)
    n_sides = len(SIDES) if side is not None else 0
    side_freq = None
    if side is not None:
        counts = np.zeros((ws.n_classes, n_sides))
        np.add.at(counts, (y, side), 1.0)
        totals = counts.sum(1, keepdims=True)
        side_freq = np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / n_sides)
    check_generator_data(config, ws)
    fir_noise = config.model.sensor_noise_taps_for(ws.sampling_rate_hz)
    fields = dict(
        normalizer=norm,
        classes=tuple(ws.classes),
        channels=tuple(ws.channels),
        units=tuple(ws.units),
        sampling_rate_hz=float(ws.sampling_rate_hz),
        length=X.shape[2],
        sides=SIDES if n_sides else (),
        side_freq=side_freq,
        gravity=gravity,
        placement=placement,
        source_units=_source_units(ws),
    )
    run = _new_run(config, fields, sensor_noise_std=fast_variation(Z) if fir_noise else None)
    run.generator.to(resolve_device(device))
    return run, (Z, y, side)


def _sides(side: np.ndarray | None, placement: str, n: int) -> np.ndarray | None:
    """The windows' arm sides; a placement that names the side ("wrist-left") stands in for
    a data set that does not say it per window."""
    named = placement.rpartition("-")[2]
    known = side is not None and np.isin(np.asarray(side).astype(str), SIDES).all()
    if not known and named in SIDES:
        return np.full(n, named)
    return side


def _source_units(ws: WindowSet) -> tuple[str, ...] | None:
    units = ws.source_units
    return None if units is None or tuple(units) == tuple(ws.units) else tuple(units)


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
        sampling_rate_hz=run.sampling_rate_hz,
        length=run.length,
        seed=config.train.seed,
    )
    if hasattr(run.generator, "residual_share") and config.model.residual:
        callbacks = [*callbacks, ResidualShareCallback(seed=config.train.seed)]
    tensors = [Z, y] + ([side] if side is not None else [])
    loader = epoch_loader(
        *tensors,
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        weights=class_weights(y, config.train.class_balance),
    )
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
    run.checkpoints = [state.checkpoint]
    return state


def check_windows(X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(X float32 (N, C, T), y int64)`` checked: finite, non-empty, codes in range."""
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


# ----------------------------------------------------------------------------- sampling


def _new_run(
    config: GANConfig, fields: dict[str, Any], sensor_noise_std: np.ndarray | None = None
) -> GANRun:
    """A run of ``config`` with a new generator for the windows ``fields`` describe (the
    fields of :class:`GANRun` but the generator), seeded by ``config.train.seed``.

    Training and loading both build their generator here, so a checkpoint's weights always
    meet the network they were trained in. ``sensor_noise_std``: see :func:`build_generator`.
    """
    norm = fields["normalizer"]
    generator = build_generator(
        config.model,
        len(fields["channels"]),
        fields["length"],
        len(fields["classes"]),
        n_sides=len(fields["sides"]),
        sampling_rate_hz=fields["sampling_rate_hz"],
        channel_mean=norm.mean_,
        channel_scale=norm.scale_,
        sensor_noise_std=sensor_noise_std,
        gravity=fields["gravity"],
        placement=fields["placement"],
        seed=config.train.seed,
    )
    return GANRun(config=config, generator=generator, **fields)


def _fields_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The fields :meth:`GANRun.meta` stored, for :func:`_new_run`."""
    norm = ChannelNormalizer.from_dict(meta["normalizer"])
    side_freq, source_units = meta.get("side_freq"), meta.get("source_units")
    return dict(
        normalizer=norm,
        classes=tuple(meta["classes"]),
        channels=tuple(meta["channels"]),
        units=tuple(meta["units"]),
        sampling_rate_hz=float(meta["sampling_rate_hz"]),
        length=int(meta["length"]),
        sides=tuple(meta.get("sides") or ()),
        side_freq=None if side_freq is None else np.asarray(side_freq, dtype=np.float64),
        # Runs from before these were stored modelled gravity, on the wrist.
        gravity=bool(meta.get("gravity", True)),
        placement=str(meta.get("placement", "")),
        source_units=None if source_units is None else tuple(source_units),
    )


def _run_from_checkpoint(ckpt: dict[str, Any], path: Path | None, dev: torch.device) -> GANRun:
    config = _runs.stored_config(ckpt, path)
    try:
        fields = _fields_from_meta(ckpt.get("meta") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata lacks {exc}", path=path, field="meta") from None
    run = _new_run(config, fields)
    load_state(run.generator, ckpt["ema"], name="ema", path=path)
    run.generator = run.generator.to(dev).eval()
    run.step, run.checkpoints = int(ckpt["step"]), [lambda: ckpt]
    return run


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

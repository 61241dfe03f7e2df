"""The image modality: GANs of 64x64 ROIs, one DCGAN per class or an AC-GAN.

Frid-Adar et al. 2018 trained one DCGAN per lesion class (their best synthetic augmentation)
and compared it with a single class-conditional AC-GAN. Both are here, trained by the same
:func:`~imusynth.train.loop.fit_gan` as the IMU models and configured by the same
:class:`~imusynth.train.config.GANConfig` (``model.generator = "dcgan"`` or ``"acgan"``):
only the networks (:mod:`imusynth.models.dcgan2d`) and the data differ.

Images are trained on and sampled in [-1, 1] (the range of the loaders and of the
generator's tanh), so no normaliser is involved: :meth:`~imusynth.gan.ImageGAN.sample`
returns images in [-1, 1].

This module is the image modality, :data:`IMAGES`: the run API of :mod:`imusynth.gan`
(:func:`~imusynth.gan.train_run`, :func:`~imusynth.gan.load_run`, :func:`~imusynth.gan.sample`,
:func:`~imusynth.gan.balance`, and :class:`~imusynth.gan.ImageGAN` on arrays) hands it what
is particular to images: the data checks, one GAN per class or one AC-GAN, the one-class
batches, the run folder's per-class checkpoints and generating.

A run folder holds ``config.toml``, ``run.json`` (``"modality": "image"``, classes,
channels, units, size) and ``checkpoint.pt`` (AC-GAN) or ``class<k>/checkpoint.pt`` (one
DCGAN per class ``k``), each with its ``metrics.csv``; and ``samples.png``.

Small data. A DCGAN trained on some 40 raw ROIs of a class collapses; the paper trained its
GANs on classically augmented ROIs, and ``model.minibatch_std`` helps too (see
:mod:`imusynth.models.dcgan2d`). The experiment runner augments the fold's training ROIs
before fitting (``[gan] augment_to`` in ``experiments/ct_augmentation.toml``). The AC-GAN
trains on one-class batches (:func:`class_batch_loader`): with mixed batches it made one
image per class on the phantoms (per-pixel standard deviation across a class's samples
0.04-0.06, against 0.24 for real ROIs, after 600-1,200 steps); with one-class batches 0.12
after 600 steps and 0.17-0.19 after 1,200.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from imusynth.data import ImageSet, WindowSet
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.gan import runs as _runs
from imusynth.gan.modality import Generated, Modality, TrainingJob
from imusynth.runtime import resolve_device
from imusynth.train.build import build_image_gan
from imusynth.train.checkpoint import load_checkpoint, load_state, save_checkpoint
from imusynth.train.config import IMAGE_GENERATORS, GANConfig
from imusynth.train.loop import CHECKPOINT_NAME, epoch_loader, fit_gan

__all__ = [
    "IMAGES",
    "IMAGE_SIZE",
    "ImageGANRun",
    "ImageModality",
    "check_images",
    "class_batch_loader",
]

log = logging.getLogger(__name__)

MODALITY = "image"  # run.json's "modality" of an image run
IMAGE_SIZE = 64  # the DCGAN of Frid-Adar et al. makes 64x64 ROIs
_RANGE_TOL = 1e-4  # loaders clip to [-1, 1]; allow float round-off only


@dataclass
class ImageGANRun:
    """Trained image generators and what is needed to label their output.

    Attributes
    ----------
    config : GANConfig
    generators : list of nn.Module
        EMA generators in eval mode: one per class (``"dcgan"``) or one conditional
        (``"acgan"``).
    classes, channels, units : tuple of str
    size : int
        Image side in pixels.
    step : int
        Generator updates done (per GAN).
    run_dir : Path or None
    checkpoints : list of callable
        Each GAN's checkpoint dict, on demand.
    modality : ImageModality
        :data:`IMAGES`.
    """

    config: GANConfig
    generators: list[nn.Module]
    classes: tuple[str, ...]
    channels: tuple[str, ...] = ("intensity",)
    units: tuple[str, ...] = ("scaled",)
    size: int = IMAGE_SIZE
    step: int = 0
    run_dir: Path | None = None
    # One callable per GAN returning its full checkpoint dict (what ImageGAN.save writes).
    checkpoints: list[Callable[[], dict[str, Any]]] = field(default_factory=list, repr=False)

    @property
    def modality(self) -> ImageModality:
        return IMAGES

    @property
    def conditional(self) -> bool:
        return self.config.model.generator == "acgan"

    @property
    def device(self) -> torch.device:
        return next(self.generators[0].parameters()).device

    def meta(self) -> dict[str, Any]:
        """Plain values for the checkpoints and ``run.json``."""
        return {
            "modality": MODALITY,
            "generator": self.config.model.generator,
            "classes": list(self.classes),
            "channels": list(self.channels),
            "units": list(self.units),
            "size": int(self.size),
            "sampling_rate_hz": 0.0,
        }


# ----------------------------------------------------------------------------- the modality


class ImageModality(Modality):
    """Images ``(N, 1, 64, 64)`` in [-1, 1]; one DCGAN per class or one AC-GAN per run."""

    name = MODALITY
    resume_keys = ("generator", "classes", "size")
    resume_differ = "the training data or model differ from the run being resumed"
    resume_missing_at_folder = True
    balance_checks = ("shape",)  # the synthetic rows take the data's channel and unit names

    def check_config(self, config: GANConfig) -> None:
        if config.model.generator not in IMAGE_GENERATORS:
            raise ConfigError(
                f"images need an image generator ({', '.join(IMAGE_GENERATORS)}), "
                f"got {config.model.generator!r}",
                field="model.generator",
            )

    def check_arrays(self, X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Training arrays checked (see :func:`check_images`)."""
        return check_images(X, y, n_classes)

    def prepare(
        self, config: GANConfig, data: WindowSet, device: str | torch.device
    ) -> TrainingJob:
        X, y = check_images(data.X, data.y, data.n_classes)
        dev = resolve_device(device)
        run = ImageGANRun(
            config=config,
            generators=[],
            classes=tuple(data.classes),
            channels=tuple(data.channels),
            units=tuple(data.units),
            size=X.shape[-1],
        )

        def check_data() -> None:
            for _ in _parts(config, run, X, y, None):  # every part's data checked before writing
                pass

        def fit(out_dir, resume, progress, callbacks, plots) -> list[dict[str, Any]]:
            return _train_parts(config, run, X, y, out_dir, dev, resume, progress, callbacks)

        def after(out_dir: Path) -> None:
            _plot_samples(run, X, y, out_dir / "samples.png")

        return TrainingJob(run=run, device=dev, check_data=check_data, fit=fit, after=after)

    def load(
        self, run_dir: Path, meta: dict[str, Any] | None, device: str | torch.device
    ) -> ImageGANRun:
        if meta is None or meta.get("modality") != MODALITY:
            raise CheckpointError("not an image GAN run (no image run.json)", path=run_dir)
        dev = resolve_device(device)
        try:
            classes = tuple(meta["classes"])
            generator = str(meta["generator"])
        except (KeyError, TypeError) as exc:
            raise CheckpointError(
                f"run metadata lacks {exc}", path=run_dir / _runs.META_NAME
            ) from None
        paths = (
            [run_dir / CHECKPOINT_NAME]
            if generator == "acgan"
            else [run_dir / f"class{k}" / CHECKPOINT_NAME for k in range(len(classes))]
        )
        run = None
        for path in paths:
            ckpt = load_checkpoint(path, map_location=dev)
            part = _run_from_checkpoint(ckpt, path, classes, dev)
            if run is None:
                run = part
            else:
                run.generators += part.generators
                run.checkpoints += part.checkpoints
        assert run is not None
        run.channels = tuple(meta.get("channels", run.channels))
        run.units = tuple(meta.get("units", run.units))
        run.size = int(meta.get("size", run.size))
        run.run_dir = run_dir
        return run

    def save_checkpoints(self, run: ImageGANRun, run_dir: Path) -> None:
        checkpoints = run.checkpoints
        if run.conditional:
            save_checkpoint(run_dir / CHECKPOINT_NAME, checkpoints[0]())
        else:
            for k, make in enumerate(checkpoints):
                (run_dir / f"class{k}").mkdir(exist_ok=True)
                save_checkpoint(run_dir / f"class{k}" / CHECKPOINT_NAME, make())

    def generate(self, run: ImageGANRun, codes: np.ndarray, seed: int) -> Generated:
        return Generated(_generate(run, codes, seed))

    def synthetic_set(self, run: ImageGANRun, codes: np.ndarray, made: Generated) -> ImageSet:
        return ImageSet(**_runs.synthetic_fields(run, made.X, codes), sampling_rate_hz=0.0)

    def fit_to(self, fake: WindowSet, data: WindowSet, codes: np.ndarray) -> WindowSet:
        return dataclasses.replace(
            fake,
            y=codes[fake.y],
            classes=data.classes,
            channels=data.channels,
            units=data.units,
            recording=None if data.recording is None else np.full(len(fake), -1, np.int64),
            side=None if data.side is None else np.full(len(fake), ""),
        )


IMAGES = ImageModality()


# ----------------------------------------------------------------------------- training


def _train_parts(config, run, X, y, out, dev, resume, progress, callbacks) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for part, (Xk, yk, cfg_k, sub) in enumerate(_parts(config, run, X, y, out)):
        generator, discriminator = build_image_gan(
            config.model, len(run.classes), seed=cfg_k.train.seed
        )
        if run.conditional:
            loader = class_batch_loader(
                Xk, yk, batch_size=cfg_k.train.batch_size, seed=cfg_k.train.seed
            )
        else:
            loader = epoch_loader(
                torch.from_numpy(Xk), batch_size=cfg_k.train.batch_size, seed=cfg_k.train.seed
            )
        can_resume = resume and sub is not None and (sub / CHECKPOINT_NAME).exists()
        log.info("training %s part %d on %d images", config.model.generator, part, len(Xk))
        state = fit_gan(
            generator,
            discriminator,
            loader,
            cfg_k,
            callbacks,
            device=dev,
            out_dir=sub,
            resume=can_resume,
            progress=progress,
            meta=run.meta() | {"part": part},
        )
        run.generators.append(state.ema.eval())
        run.checkpoints.append(state.checkpoint)
        run.step = state.step
        history += state.history
    return history


def class_batch_loader(
    X: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int
) -> Callable[[int], list[tuple[torch.Tensor, torch.Tensor]]]:
    """A loader factory for :func:`~imusynth.train.loop.fit_gan` whose batches each hold one
    class: ``epoch -> [(x, y), ...]``, shuffled by ``seed + epoch`` (so resumable exactly).

    The AC-GAN trains on these. In a batch that mixes classes, the discriminator's
    minibatch-stddev feature sees the variety between classes and so cannot notice a
    generator that makes one image per class (which AC-GANs tend to do, Odena et al. 2017);
    in a one-class batch it can. Each class gives ``len // batch_size`` batches per epoch.

    Examples
    --------
    >>> X = np.zeros((10, 1, 4, 4), np.float32); y = np.array([0] * 6 + [1] * 4)
    >>> batches = class_batch_loader(X, y, batch_size=2, seed=0)(0)
    >>> len(batches), all(len(set(b[1].tolist())) == 1 for b in batches)
    (5, True)
    """
    X_t, y_t = torch.from_numpy(np.asarray(X, np.float32)), torch.from_numpy(np.asarray(y))
    classes = np.unique(y)
    if max(int(np.sum(y == c)) for c in classes) < batch_size:
        raise DataError(f"no class has a batch of {batch_size} images", field="train.batch_size")

    def make(epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng(seed + epoch)
        batches = []
        for c in classes:
            rows = rng.permutation(np.flatnonzero(y == c))
            for start in range(0, len(rows) - batch_size + 1, batch_size):
                batches.append(rows[start : start + batch_size])
        order = rng.permutation(len(batches))
        return [(X_t[batches[i]], y_t[batches[i]]) for i in order]

    return make


def _parts(config: GANConfig, run: ImageGANRun, X: np.ndarray, y: np.ndarray, out: Path | None):
    """``(X, y, config, folder)`` of each GAN to train: one per class, or one AC-GAN."""
    batch = config.train.batch_size
    if run.conditional:
        if len(X) < batch:
            raise DataError(
                f"{len(X)} training images, fewer than one batch of {batch}",
                field="train.batch_size",
            )
        yield X, y, config, out
        return
    for k, name in enumerate(run.classes):
        Xk = X[y == k]
        if len(Xk) < batch:
            raise DataError(
                f"class {name!r} has {len(Xk)} training images, fewer than one batch of "
                f"{batch} (one DCGAN is trained per class)",
                field="train.batch_size",
            )
        # Each class's GAN gets its own seed, so the GANs are not copies of one another.
        cfg_k = dataclasses.replace(
            config, train=dataclasses.replace(config.train, seed=config.train.seed + k)
        )
        sub = None
        if out is not None:
            sub = out / f"class{k}"
            sub.mkdir(exist_ok=True)
        yield Xk, np.full(len(Xk), k, dtype=np.int64), cfg_k, sub


def check_images(X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(X float32 (N, 1, 64, 64) in [-1, 1], y int64)`` checked; X clipped to [-1, 1]."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 4 or X.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"expected images (N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), got shape {X.shape} "
            "(set [image] size = 64 in the dataset spec)",
            field="X",
        )
    if len(X) == 0:
        raise DataError("no training images", field="X")
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"expected {len(X)} integer class codes, got shape {y.shape}", field="y")
    if not np.all(np.isfinite(X)):
        raise DataError("NaN or Inf in training images", field="X")
    lo, hi = float(X.min()), float(X.max())
    if lo < -1 - _RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise DataError(
            f"images must lie in [-1, 1] (the generator's tanh range), got [{lo:.3g}, {hi:.3g}]",
            field="X",
        )
    _runs.check_label_range(y, n_classes)
    return np.clip(X, -1.0, 1.0), y.astype(np.int64)


# ----------------------------------------------------------------------------- sampling


def _run_from_checkpoint(
    ckpt: dict[str, Any], path: Path | None, classes: tuple[str, ...], dev: torch.device
) -> ImageGANRun:
    config = _runs.stored_config(ckpt, path)
    if config.model.generator not in IMAGE_GENERATORS:
        raise CheckpointError(
            f"not an image GAN checkpoint (generator {config.model.generator!r})",
            path=path,
            field="model.generator",
        )
    generator, _ = build_image_gan(config.model, len(classes), seed=config.train.seed)
    load_state(generator, ckpt["ema"], name="ema", path=path)
    return ImageGANRun(
        config=config,
        generators=[generator.to(dev).eval()],
        classes=classes,
        step=int(ckpt["step"]),
        checkpoints=[lambda: ckpt],
    )


@torch.no_grad()
def _generate(run: ImageGANRun, codes: np.ndarray, seed: int) -> np.ndarray:
    dev = run.device
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    out = np.zeros((len(codes), 1, run.size, run.size), dtype=np.float32)
    latent = run.generators[0].latent_dim
    for k in np.unique(codes):
        rows = np.flatnonzero(codes == k)
        G = run.generators[0] if run.conditional else run.generators[int(k)]
        for start in range(0, len(rows), 256):
            part = rows[start : start + 256]
            z = torch.randn(len(part), latent, generator=gen).to(dev)
            y = torch.full((len(part),), int(k), device=dev) if run.conditional else None
            out[part] = G(z, y).float().cpu().numpy()  # (B, 1, H, W) in [-1, 1]
    return out


def _plot_samples(run: ImageGANRun, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    from imusynth.plots.images import plot_real_vs_synthetic_images

    ys = _runs.class_codes(run.classes, 8, None)
    Xs = _generate(run, ys, run.config.train.seed)
    fig = plot_real_vs_synthetic_images(X, y, Xs, ys, run.classes, n_per_class=8)
    fig.savefig(path, dpi=80)

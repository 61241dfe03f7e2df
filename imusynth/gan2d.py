"""GANs of 64x64 ROIs: one DCGAN per class, or an AC-GAN, through the shared training loop.

Frid-Adar et al. 2018 trained one DCGAN per lesion class (their best synthetic augmentation)
and compared it with a single class-conditional AC-GAN. Both are here, trained by the same
:func:`~imusynth.train.loop.fit_gan` as the IMU models and configured by the same
:class:`~imusynth.train.config.GANConfig` (``model.generator = "dcgan"`` or ``"acgan"``):
only the networks (:mod:`imusynth.models.dcgan2d`) and the data differ.

Images are trained on and sampled in [-1, 1] (the range of the loaders and of the
generator's tanh), so no normaliser is involved: :meth:`ImageGAN.sample` returns images
in [-1, 1].

Two ways in, as for windows (:mod:`imusynth.gan`):

* run folders: :func:`train_image_run`, :func:`load_image_run`, :func:`sample_images`,
  :func:`balance_images` (what ``imusynth train`` / ``sample`` / ``balance`` call through
  :mod:`imusynth.gan` when the data are images);
* :class:`ImageGAN`, a scikit-learn style estimator on arrays (what the experiment runner
  uses).

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

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from imusynth import _runs
from imusynth._runs import CONFIG_NAME, META_NAME, SYNTHETIC_GROUP  # noqa: F401 (kept here)
from imusynth.data import ImageSet, WindowSet, concatenate
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.locks import folder_lock
from imusynth.runtime import apply_thread_policy, resolve_device
from imusynth.train.build import build_image_gan
from imusynth.train.checkpoint import load_checkpoint, load_state, save_checkpoint
from imusynth.train.config import IMAGE_GENERATORS, GANConfig, apply_overrides, validate_config
from imusynth.train.loop import (
    CHECKPOINT_NAME,
    Callback,
    check_train_setup,
    epoch_loader,
    fit_gan,
)

__all__ = [
    "ImageGAN",
    "ImageGANRun",
    "balance_images",
    "class_batch_loader",
    "is_image_run",
    "load_image_run",
    "sample_image_arrays",
    "sample_images",
    "train_image_run",
]

log = logging.getLogger(__name__)

MODALITY = "image"
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


# ----------------------------------------------------------------------------- training


def train_image_run(
    config: GANConfig,
    images: WindowSet,
    out_dir: str | Path | None,
    *,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    plots: bool = True,
) -> ImageGANRun:
    """Train ``config.model.generator`` (``"dcgan"`` or ``"acgan"``) on 64x64 images.

    Parameters
    ----------
    config : GANConfig
    images : ImageSet
        Training images ``(N, 1, 64, 64)`` in [-1, 1] (real rows only are used).
    out_dir : str or Path or None
        The run folder (created); ``None`` trains in memory only.
    resume : bool
        Continue a killed run in ``out_dir``: classes already trained are reloaded, the
        interrupted one continues from its checkpoint (from step 0 if it had none yet).
        The config, the images and the device settings are checked before anything is
        written, and ``out_dir`` is locked while the run writes to it.
    device : str or torch.device
    progress : bool
    callbacks : sequence of Callback
        Passed to every :func:`~imusynth.train.loop.fit_gan` call.
    plots : bool
        Write ``samples.png`` (real and synthetic images per class) into ``out_dir``.

    Returns
    -------
    ImageGANRun

    Examples
    --------
    >>> from imusynth.data import load_images
    >>> from imusynth.train.config import load_config
    >>> cfg = load_config("experiments/ct_dcgan.toml", ["train.steps=2"])  # doctest: +SKIP
    >>> run = train_image_run(cfg, load_images(cfg.data.spec), "runs/ct")  # doctest: +SKIP
    """
    validate_config(config)
    apply_thread_policy()  # the CLI's thread policy (imusynth.runtime)
    if config.model.generator not in IMAGE_GENERATORS:
        raise ConfigError(
            f"images need an image generator ({', '.join(IMAGE_GENERATORS)}), "
            f"got {config.model.generator!r}",
            field="model.generator",
        )
    ims = images.subset(~images.is_synthetic) if images.is_synthetic.any() else images
    X, y = _check_images(ims.X, ims.y, ims.n_classes)
    dev = resolve_device(device)
    out = None if out_dir is None else Path(out_dir)
    run = ImageGANRun(
        config=config,
        generators=[],
        classes=tuple(ims.classes),
        channels=tuple(ims.channels),
        units=tuple(ims.units),
        size=X.shape[-1],
    )
    check_train_setup(config.train, dev)
    for _ in _parts(config, run, X, y, None):  # every part's data checked before writing
        pass
    with contextlib.ExitStack() as stack:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(out, "run folder"))
            if resume:
                _check_resume_meta(out, run)
            _runs.write_run_files(out, config, run.meta())
        _train_parts(config, run, X, y, out, dev, resume, progress, callbacks)
    run.run_dir = out
    if out is not None and plots:
        _plot_samples(run, X, y, out / "samples.png")
    return run


def _train_parts(config, run, X, y, out, dev, resume, progress, callbacks) -> None:
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


def _check_images(X: Any, y: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
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


# ----------------------------------------------------------------------------- run folders


def _check_resume_meta(run_dir: Path, run: ImageGANRun) -> None:
    _runs.check_resume_meta(
        run_dir,
        run.meta(),
        ("generator", "classes", "size"),
        differ="the training data or model differ from the run being resumed",
        missing_at=run_dir,
    )


def is_image_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds an image GAN run (its ``run.json`` says so)."""
    meta = _runs.read_meta(Path(run_dir)) if Path(run_dir).is_dir() else None
    return bool(meta) and meta.get("modality") == MODALITY


def load_image_run(run_dir: str | Path, device: str | torch.device = "cpu") -> ImageGANRun:
    """Rebuild a trained image run's EMA generators from its folder.

    Raises
    ------
    CheckpointError
        Missing folder, metadata or checkpoint, or a corrupt or incompatible checkpoint.

    Examples
    --------
    >>> run = load_image_run("runs/ct")  # doctest: +SKIP
    >>> sample_images(run, per_class=5).X.shape  # doctest: +SKIP
    (15, 1, 64, 64)
    """
    run_dir = _runs.existing_run_dir(run_dir)
    meta = _runs.read_meta(run_dir)
    if meta is None or meta.get("modality") != MODALITY:
        raise CheckpointError("not an image GAN run (no image run.json)", path=run_dir)
    dev = resolve_device(device)
    try:
        classes = tuple(meta["classes"])
        generator = str(meta["generator"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"run metadata lacks {exc}", path=run_dir / META_NAME) from None
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


# ----------------------------------------------------------------------------- sampling


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


def sample_image_arrays(
    run: ImageGANRun,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(X (N, 1, H, W) in [-1, 1], y (N,))``, ``per_class`` images of each class.

    ``per_class`` is a count for every class (in ``classes``, default all) or a mapping of
    class name to count; the same seed gives the same images.
    """
    codes = _runs.class_codes(run.classes, per_class, classes)
    return _generate(run, codes, seed), codes


def sample_images(
    run: ImageGANRun,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> ImageSet:
    """:func:`sample_image_arrays` as an :class:`ImageSet` flagged ``is_synthetic``."""
    X, codes = sample_image_arrays(run, per_class, classes, seed)
    return _synthetic_set(run, X, codes)


def _synthetic_set(run: ImageGANRun, X: np.ndarray, codes: np.ndarray) -> ImageSet:
    return ImageSet(**_runs.synthetic_fields(run, X, codes), sampling_rate_hz=0.0)


def balance_images(ims: WindowSet, run: ImageGANRun, seed: int = 0) -> WindowSet:
    """Top every class of ``ims`` up to its largest class with synthetic images.

    Real rows come first, unchanged; synthetic rows have ``is_synthetic`` set and group
    ``"synthetic"``.

    Raises
    ------
    DataError
        ``ims`` are not images of the run's size, or have classes the run does not know.
    """
    if ims.X.ndim != 4 or ims.X.shape[1:] != (1, run.size, run.size):
        raise DataError(
            f"images of shape {ims.X.shape[1:]}, the run makes (1, {run.size}, {run.size})",
            field="X",
        )
    _runs.check_known_classes(ims.classes, run.classes)
    fake = sample_images(run, _runs.shortfall(ims.y, ims.classes), None, seed)
    fake = dataclasses.replace(
        fake,
        y=_runs.recode(run.classes, ims.classes)[fake.y],
        classes=ims.classes,
        channels=ims.channels,
        units=ims.units,
        recording=None if ims.recording is None else np.full(len(fake), -1, np.int64),
        side=None if ims.side is None else np.full(len(fake), ""),
    )
    return concatenate([ims, fake])


def _plot_samples(run: ImageGANRun, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    from imusynth.plots.images import plot_real_vs_synthetic_images

    Xs, ys = sample_image_arrays(run, 8, seed=run.config.train.seed)
    fig = plot_real_vs_synthetic_images(X, y, Xs, ys, run.classes, n_per_class=8)
    fig.savefig(path, dpi=80)


# ----------------------------------------------------------------------------- estimator

# Estimator parameter -> config section; the defaults live in the config dataclasses only.
_PARAM_SECTIONS = {
    "generator": "model",
    "latent_dim": "model",
    "g_width": "model",
    "d_width": "model",
    "minibatch_std": "model",
    "loss": "train",
    "steps": "train",
    "batch_size": "train",
    "lr_g": "train",
    "lr_d": "train",
    "ema_decay": "train",
    "seed": "train",
}
# Without a config, the DCGAN setting of Frid-Adar et al. (non-saturating BCE loss).
_IMAGE_BASE = {"model.generator": "dcgan", "train.loss": "bce"}


class ImageGAN(_runs.RunEstimator):
    """A GAN of 64x64 images ``(N, 1, 64, 64)`` in [-1, 1], scikit-learn style.

    ``generator="dcgan"`` trains one unconditional DCGAN per class (Frid-Adar et al.'s best
    arm); ``"acgan"`` one AC-GAN for all classes. Parameters left at ``None`` take their
    value from ``config`` (default: :class:`~imusynth.train.config.GANConfig` with
    ``model.generator = "dcgan"`` and ``train.loss = "bce"``).

    Parameters
    ----------
    config : GANConfig, optional
    generator : {"dcgan", "acgan"}, optional
    latent_dim, g_width, d_width : int, optional
    minibatch_std : bool, optional
    loss : {"bce", "hinge", "wgan-gp"}, optional
    steps, batch_size : int, optional
        Generator updates per GAN, and batch size.
    lr_g, lr_d, ema_decay : float, optional
    seed : int, optional
    device : str
    progress : bool

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

    _param_sections = _PARAM_SECTIONS
    _estimator_name = "ImageGAN"

    def __init__(
        self,
        *,
        config: GANConfig | None = None,
        generator: str | None = None,
        latent_dim: int | None = None,
        g_width: int | None = None,
        d_width: int | None = None,
        minibatch_std: bool | None = None,
        loss: str | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
        ema_decay: float | None = None,
        seed: int | None = None,
        device: str = "auto",
        progress: bool = False,
    ) -> None:
        self._store(locals())

    def _default_config(self) -> GANConfig:
        return apply_overrides(GANConfig(), [f"{k}={v}" for k, v in _IMAGE_BASE.items()])

    def _check_config(self, config: GANConfig) -> None:
        if config.model.generator not in IMAGE_GENERATORS:
            raise ConfigError(
                f"expected one of {', '.join(IMAGE_GENERATORS)}, got {config.model.generator!r}",
                field="model.generator",
            )

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
        cfg = self.resolved_config()
        X, y = _check_images(X, y, None if classes is None else len(classes))
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
        run = train_image_run(cfg, ims, None, device=self.device, progress=self.progress)
        self._set_run(run)
        return self

    def sample(
        self,
        n_per_class: int | Mapping[str, int] = 100,
        seed: int = 0,
        classes: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)``: images in [-1, 1], ``n_per_class`` of each class."""
        self._check_fitted()
        return sample_image_arrays(self.run_, n_per_class, classes, seed)

    def save(self, run_dir: str | Path) -> Path:
        """Write a run folder that :meth:`load` and :func:`load_image_run` read."""
        return self._save_run_folder(run_dir)

    def _save_checkpoints(self, run_dir: Path) -> None:
        checkpoints = self.run_.checkpoints
        if self.run_.conditional:
            save_checkpoint(run_dir / CHECKPOINT_NAME, checkpoints[0]())
        else:
            for k, make in enumerate(checkpoints):
                (run_dir / f"class{k}").mkdir(exist_ok=True)
                save_checkpoint(run_dir / f"class{k}" / CHECKPOINT_NAME, make())

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> ImageGAN:
        """A fitted estimator from a run folder (:meth:`save` or ``imusynth train``)."""
        return cls._from_run(load_image_run(run_dir, device=device), device)

"""The run API, one for windows and images: :func:`train_run`, :func:`load_run`,
:func:`sample` and :func:`balance`.

The modality (:data:`~imusynth.gan.windows.WINDOWS` or :data:`~imusynth.gan.images.IMAGES`)
is decided once: from the data and the generator when a run trains
(:func:`modality_for`), from ``run.json`` when it is loaded (:func:`modality_of_folder`).
The run then carries it (``run.modality``), and sampling and balancing ask it for what
differs. The names of the two former modules (``sample_windows``, ``balance_windows``,
``train_image_run``, ``load_image_run``, ``sample_images``, ``balance_images``, ...) are kept
as thin aliases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack, overload

import numpy as np
import torch

from imusynth.data import WindowSet, concatenate
from imusynth.gan import runs as _runs
from imusynth.gan.images import IMAGES, ImageGANRun
from imusynth.gan.modality import Modality
from imusynth.gan.windows import WINDOWS, GANRun
from imusynth.locks import folder_lock
from imusynth.runtime import apply_thread_policy
from imusynth.train.config import IMAGE_GENERATORS, GANConfig, validate_config
from imusynth.train.loop import Callback, check_train_setup

__all__ = [
    "balance",
    "balance_images",
    "balance_windows",
    "fit_run",
    "is_image_run",
    "load_image_run",
    "load_run",
    "modality_for",
    "modality_of_folder",
    "sample",
    "sample_image_arrays",
    "sample_images",
    "sample_run",
    "sample_windows",
    "train_image_run",
    "train_run",
]

Run = GANRun | ImageGANRun

# ----------------------------------------------------------------------------- the modality


def modality_for(data: WindowSet, config: GANConfig) -> Modality:
    """The modality that trains ``config`` on ``data``: images when ``data`` holds images
    ``(N, 1, H, W)`` or ``model.generator`` is an image generator, else windows."""
    if data.X.ndim == 4 or config.model.generator in IMAGE_GENERATORS:
        return IMAGES
    return WINDOWS


def modality_of_folder(run_dir: Path) -> tuple[Modality, dict[str, Any] | None]:
    """The modality of the run in ``run_dir`` (its ``run.json`` says so) and that metadata."""
    meta = _runs.read_meta(run_dir)
    image = bool(meta) and meta.get("modality") == IMAGES.name
    return (IMAGES if image else WINDOWS), meta


# ----------------------------------------------------------------------------- training


class FitOptions(TypedDict, total=False):
    """The keyword options that :func:`train_run` and :func:`train_image_run` pass on to
    :func:`fit_run`; an option left out takes :func:`fit_run`'s default."""

    resume: bool
    device: str | torch.device
    progress: bool
    callbacks: Sequence[Callback]
    plots: bool


def train_run(
    config: GANConfig,
    windows: WindowSet,
    out_dir: str | Path | None,
    **options: Unpack[FitOptions],
) -> Run:
    """Train a GAN on ``windows`` (or images) and write the run folder ``out_dir``.

    Windows ``(N, C, T)`` train one conditional generator (a :class:`GANRun`); images
    ``(N, 1, 64, 64)``, or ``model.generator`` ``"dcgan"`` / ``"acgan"``, one DCGAN per class
    or one AC-GAN (an :class:`ImageGANRun`).

    Parameters
    ----------
    config : GANConfig
    windows : WindowSet or ImageSet
        Training windows in physical units, or images in [-1, 1] (real rows only are used).
    out_dir : str or Path or None
        The run folder (created); ``None`` trains in memory only. The config, the data and
        the device settings are checked before anything is written there, and the folder is
        locked while the run writes to it (a second writer gets a
        :class:`~imusynth.errors.LockError`).
    resume : bool
        Continue a killed run in ``out_dir`` (same data and config). A run killed before its
        first checkpoint starts again from step 0; of an image run with one GAN per class,
        the classes already trained are reloaded and the interrupted one continues.
    device : str or torch.device
    progress : bool
        tqdm progress bar.
    callbacks : sequence of Callback
        Extra hooks for every :func:`~imusynth.train.loop.fit_gan` call.
    plots : bool
        Draw real vs synthetic figures into ``out_dir`` (windows: every
        ``train.sample_every`` steps and at the end; images: ``samples.png`` at the end).

    Examples
    --------
    >>> from imusynth.gan.windows import load_training_windows
    >>> from imusynth.train.config import load_config
    >>> cfg = load_config("watch_cgan.toml", ["train.steps=2"])  # doctest: +SKIP
    >>> run = train_run(cfg, load_training_windows(cfg), "runs/tiny")  # doctest: +SKIP
    """
    return _checked_fit(None, config, windows, out_dir, options)


def _checked_fit(
    modality: Modality | None,
    config: GANConfig,
    data: WindowSet,
    out_dir: str | Path | None,
    options: FitOptions,
) -> Run:
    """:func:`fit_run` after the config checks; ``modality`` ``None``: from ``data``."""
    validate_config(config)
    modality = modality or modality_for(data, config)
    modality.check_config(config)
    run, _ = fit_run(modality, config, data, out_dir, **options)
    return run


def fit_run(
    modality: Modality,
    config: GANConfig,
    data: WindowSet,
    out_dir: str | Path | None,
    *,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    plots: bool = True,
) -> tuple[Run, list[dict[str, Any]]]:
    """:func:`train_run` for a config already checked (``validate_config`` and
    ``modality.check_config``); returns the run and the training loop's metrics rows."""
    apply_thread_policy()  # the CLI's thread policy (imusynth.runtime)
    real = data.subset(~data.is_synthetic) if data.is_synthetic.any() else data
    job = modality.prepare(config, real, device)
    check_train_setup(config.train, job.device)  # before the run folder is touched
    job.check_data()
    out = None if out_dir is None else Path(out_dir)
    with contextlib.ExitStack() as stack:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(out, "run folder"))
            if resume:
                modality.check_resume(out, job.run)
            _runs.write_run_files(out, config, job.run.meta())
        history = job.fit(out, resume, progress, callbacks, plots)
    job.run.run_dir = out
    if out is not None and plots and job.after is not None:
        job.after(out)
    return job.run, history


def train_image_run(
    config: GANConfig,
    images: WindowSet,
    out_dir: str | Path | None,
    **options: Unpack[FitOptions],
) -> ImageGANRun:
    """:func:`train_run` for images only (``model.generator`` ``"dcgan"`` or ``"acgan"``)."""
    return _checked_fit(IMAGES, config, images, out_dir, options)


# ----------------------------------------------------------------------------- loading


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> Run:
    """Rebuild a trained run's EMA generator(s) and metadata from its folder.

    A window run gives a :class:`GANRun`, an image run an :class:`ImageGANRun`.

    Raises
    ------
    CheckpointError
        Missing folder, unreadable metadata, or a missing, corrupt or incompatible checkpoint.

    Examples
    --------
    >>> run = load_run("runs/demo")  # doctest: +SKIP
    >>> sample(run, per_class=10, seed=0).class_counts()  # doctest: +SKIP
    {'ABD': 10, 'FEL': 10}
    """
    run_dir = _runs.existing_run_dir(run_dir)
    modality, meta = modality_of_folder(run_dir)
    return modality.load(run_dir, meta, device)


def load_image_run(run_dir: str | Path, device: str | torch.device = "cpu") -> ImageGANRun:
    """:func:`load_run` for an image run; any other folder is a CheckpointError."""
    run_dir = _runs.existing_run_dir(run_dir)
    return IMAGES.load(run_dir, _runs.read_meta(run_dir), device)


def is_image_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds an image GAN run (its ``run.json`` says so)."""
    return Path(run_dir).is_dir() and modality_of_folder(Path(run_dir))[0] is IMAGES


# ----------------------------------------------------------------------------- sampling


def sample(
    run: Run,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> WindowSet:
    """Generate a synthetic set flagged ``is_synthetic`` (what ``imusynth sample`` writes).

    Parameters
    ----------
    run : GANRun or ImageGANRun
    per_class : int or mapping of class name to count
        How many of each class (an int applies to every class in ``classes``).
    classes : sequence of str, optional
        Restrict to these classes (default: all the run knows).
    seed : int
        The same seed gives the same samples.

    Returns
    -------
    WindowSet or ImageSet
        Windows in physical units (with sides and joint angles where the generator makes
        them), or images in [-1, 1]; classes in the run's order, group ``"synthetic"``.

    Examples
    --------
    >>> ws = sample(load_run("runs/demo"), {"ABD": 5, "IR": 3}, seed=0)  # doctest: +SKIP
    """
    codes = _runs.class_codes(run.classes, per_class, classes)
    return run.modality.synthetic_set(run, codes, run.modality.generate(run, codes, seed))


sample_windows = sample
sample_images = sample


def sample_run(
    run: Run,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`sample` as arrays.

    Returns
    -------
    X : ndarray (N, C, T) or (N, 1, H, W) float32
        Windows in physical units or images in [-1, 1], classes in the run's order.
    y : ndarray (N,) int64
        Codes into ``run.classes``.
    joint_angles : ndarray (N, J, T) float32 or None
        Joint angles [rad] of the kinematic generator (names: ``run.joint_names``).

    Examples
    --------
    >>> X, y, q = sample_run(load_run("runs/demo"), {"ABD": 5, "IR": 3})  # doctest: +SKIP
    """
    codes = _runs.class_codes(run.classes, per_class, classes)
    made = run.modality.generate(run, codes, seed)
    return made.X, codes, made.joints


def sample_image_arrays(
    run: ImageGANRun,
    per_class: int | Mapping[str, int],
    classes: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(X (N, 1, H, W) in [-1, 1], y (N,))``: :func:`sample_run` without joint angles."""
    X, codes, _ = sample_run(run, per_class, classes, seed)
    return X, codes


# ----------------------------------------------------------------------------- balancing


@overload
def balance(data: WindowSet, run: Run, seed: int = 0) -> WindowSet: ...
@overload
def balance(
    data: np.ndarray, run: np.ndarray, gan: Any, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def balance(data, run, *args, **kwargs):
    """Top every class of ``data`` up to its largest class's count with ``run``'s samples.

    ``balance(data, run, seed=0)``: ``data`` a WindowSet (or ImageSet) and ``run`` a
    trained run; returns the balanced set. Real rows come first and are kept unchanged;
    synthetic rows are appended with ``is_synthetic`` set and group ``"synthetic"``.

    ``balance(X, y, gan, seed=0)`` (arrays and a fitted estimator, as before): returns
    ``(X_balanced, y_balanced, is_synthetic)``, the real rows first (the synthetic ones in
    the units ``gan`` was fitted in); ``y`` holds codes into ``gan.classes_``.

    Raises
    ------
    DataError
        ``data`` has channels, units, a sample shape, a sampling rate or classes the run
        does not know (images: a shape or classes).

    Examples
    --------
    >>> from imusynth.gan import ConditionalGAN
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(48, 6, 32)).astype(np.float32); y = np.array([0] * 40 + [1] * 8)
    >>> gan = ConditionalGAN(steps=2, batch_size=16, device="cpu").fit(
    ...     X, y, sampling_rate_hz=50.0, units=("g",) * 3 + ("rad/s",) * 3)
    >>> Xb, yb, synth = balance(X, y, gan)
    >>> np.bincount(yb).tolist(), int(synth.sum())
    ([40, 40], 32)
    >>> balanced = balance(read_windows("w.h5"), load_run("runs/demo"))  # doctest: +SKIP
    """
    if isinstance(data, WindowSet):
        return _balance_set(data, run, *args, **kwargs)
    return _balance_arrays(data, run, *args, **kwargs)


def _balance_set(data: WindowSet, run: Run, seed: int = 0) -> WindowSet:
    modality = run.modality
    modality.check_balance_data(data, run)
    codes = _runs.class_codes(run.classes, _runs.shortfall(data.y, data.classes), None)
    fake = modality.synthetic_set(run, codes, modality.generate(run, codes, seed))
    fake = modality.fit_to(fake, data, _runs.recode(run.classes, data.classes))
    return concatenate([data, fake])


def _balance_arrays(
    X: np.ndarray, y: np.ndarray, gan: Any, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gan._check_fitted()
    X, y = gan.run_.modality.check_arrays(X, y, len(gan.classes_))
    Xs, ys = gan.sample(_runs.shortfall(y, gan.run_.classes), seed)[:2]
    flags = np.r_[np.zeros(len(X), bool), np.ones(len(Xs), bool)]
    return np.concatenate([X, Xs]), np.concatenate([y, ys]), flags


def balance_windows(ws: WindowSet, run: Run, seed: int = 0) -> WindowSet:
    """:func:`balance` of a set (the name ``imusynth balance`` has long called)."""
    return _balance_set(ws, run, seed)


balance_images = balance_windows

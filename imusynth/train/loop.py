"""The one GAN training loop, for 1D windows and 2D images alike.

Model protocol
--------------
Generator: an ``nn.Module`` with ``latent_dim: int`` and ``num_classes: int`` (0 means
unconditional); ``forward(z (B, latent_dim), y (B,) long | None[, side]) -> x`` in the
normalised space the discriminator sees, ``(B, C, T)`` or ``(B, 1, H, W)``. It may also have
``n_sides > 0`` (it then receives the arm side as a third argument when batches carry one)
and a ``penalty()`` method returning a scalar to add to its loss for its last forward.

Discriminator: ``forward(x, y | None[, side])`` returns adversarial logits ``(B,)`` or
``(logits (B,), class_logits (B, K))`` when it has an auxiliary classifier (AC-GAN).

Loader contract
---------------
``loader`` yields batches ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, side)`` (tensors on any
device; the loop moves them). It is either

* a callable ``epoch -> iterable`` (see :func:`epoch_loader`): the loop calls it once per
  epoch; resuming calls it again for the saved epoch and skips the batches already used. This
  is exact as long as the callable is a pure function of ``epoch`` (e.g. shuffles with a
  generator seeded from ``seed + epoch``);
* or an iterable re-iterated every epoch, such as a ``DataLoader(..., shuffle=True,
  generator=g)``: the loop saves ``g``'s state at the start of each epoch and restores it on
  resume. A DataLoader that shuffles without its own generator cannot be resumed exactly.

A step is one generator update after ``n_critic`` discriminator updates; each discriminator
update consumes one batch. The loop never builds data.

Data parallel
-------------
When ``torch.distributed`` is initialised (``torchrun``; see
:func:`imusynth.runtime.init_distributed`) with ``N > 1`` processes, every process runs
this loop on the same models and :class:`~torch.nn.parallel.DistributedDataParallel` averages
the gradients. The run is the single-process run with the same *global* batch:

* every process draws the same global batch (the same loader, seeded alike) and keeps its
  ``1/N`` slice: either the loop slices each batch, or the loader already yields only this
  process's slice when it says so with a ``batch_shard = (rank, world_size)`` attribute (as
  :func:`epoch_loader` and :func:`dataset_loader` do under a process group, so no process
  reads windows it does not use);
* every process draws the whole global noise (latents, instance noise, shifts, penalty
  interpolation weights) from the same seeded ``state.rng`` and keeps its slice, so the
  random state stays global, a checkpoint does not depend on ``N`` and a run can resume with
  another number of processes;
* each process's loss is the mean over its slice; with equal slices, the average of the
  gradients is the gradient of the global mean. Global batches must split evenly.

Layers that use statistics of the batch (the minibatch standard deviation in the
discriminator, BatchNorm) see only a process's slice, so such a model trains slightly
differently from one process; everything else matches to floating-point rounding.
Buffers (spectral-norm power-iteration vectors, BatchNorm running statistics) are broadcast
from rank 0 at every DDP forward. Rank 0 alone writes checkpoints and ``metrics.csv``, shows
the progress bar and runs the callbacks (figures); the metrics are averaged over processes.

Precision and compilation
-------------------------
``train.precision = "fp32"`` (the default) runs everything in float32, bitwise as before the
option existed. ``"bf16"`` (CPU or CUDA) and ``"fp16"`` (CUDA only) run the forward passes of
G and D under :func:`torch.autocast`, so their convolutions and linear layers (most of the
work) compute in 16 bits; what stays float32:

* the generator's output: the loop casts it, so the discriminator input (real and fake
  windows, shifts, instance noise) is float32 and only D's layers run in 16 bits. The
  kinematic generator runs everything after its trunk (joint and mount heads, ArmModel,
  which differentiates joint angles twice in time, the sensor noise and the normalisation)
  in float32 with autocast switched off;
* the losses: the logits are cast to float32 before the adversarial and classifier losses
  and their means (the bce softplus and the reductions are where 16 bits lose most);
* the penalties that differentiate through D twice: the R1 pass on real windows and the
  WGAN-GP pass on interpolates run D in float32 (in 16 bits the gradient norms would keep
  about 3 significant digits, and fp16 input gradients are not loss-scaled and can underflow);
* weights, gradients, Adam states, the EMA generator and the buffers.

fp16 scales each loss with a :class:`torch.amp.GradScaler` (one for D, one for G; their
states go into the checkpoint as ``"grad_scaler"``; a checkpoint without them, from an fp32
or bf16 run, resumes with fresh scalers). Adam then runs fused, so the scalers' inf check
stays on the device instead of syncing every step.

``train.compile = true`` wraps G and D in :func:`torch.compile` (default mode) after they are
moved to the device; checkpoints hold the uncompiled modules' weights, so compiled and
uncompiled runs resume from each other's checkpoints. The passes that differentiate twice
(R1, WGAN-GP) call the uncompiled D, since compiled graphs support no double backward. A
machine where compilation cannot work (no C++ compiler for the CPU, no Triton for CUDA) or a
compiler failure raises :class:`~imusynth.errors.ConfigError` naming ``train.compile``.

Host-device syncs
-----------------
Nothing in a step waits for the device: losses are summed on the device and read once per
``log_every`` steps (the NaN guard then), and weights are checked for NaN before each
checkpoint. Those are the only syncs of the loop (models may add their own).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from imusynth.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    ImusynthError,
    SpecError,
    StoreError,
)
from imusynth.locks import folder_lock
from imusynth.runtime import DistContext, distributed_context, resolve_device
from imusynth.train.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_states,
    load_checkpoint,
    load_state,
    restore_rng_states,
    save_checkpoint,
)
from imusynth.train.config import PRECISIONS, GANConfig, TrainConfig, config_to_dict
from imusynth.train.losses import (
    ADVERSARIAL_LOSSES,
    classifier_loss,
    gradient_penalty,
    r1_penalty,
)

__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "Callback",
    "DivergenceError",
    "GANTrainingState",
    "check_train_setup",
    "dataset_loader",
    "epoch_loader",
    "fit_gan",
    "random_shift",
]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.csv"
# What the loop accumulates on the device between log steps (one sync per log step).
STATS = ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty", "ac_d", "ac_g", "g_penalty")

Batch = Tensor | Sequence[Tensor]
LoaderLike = Iterable[Batch] | Callable[[int], Iterable[Batch]]


class DivergenceError(ImusynthError):
    """Training produced a NaN or Inf loss or weight; the last good checkpoint is kept."""


class Callback:
    """Hooks called by :func:`fit_gan`; override the ones you need.

    Callbacks must not draw from ``state.rng`` (that would change the run); use their own
    seeded generator.
    """

    def on_step(self, state: GANTrainingState) -> None:
        """After every generator update (``state.step`` already incremented)."""

    def on_log(self, state: GANTrainingState, metrics: dict[str, float]) -> None:
        """After each metrics row (every ``log_every`` steps and at the end)."""

    def on_end(self, state: GANTrainingState) -> None:
        """Once, after the last step and the final checkpoint."""


@dataclass
class GANTrainingState:
    """Everything the loop updates; what a checkpoint saves and a resume restores."""

    generator: nn.Module
    discriminator: nn.Module
    ema: nn.Module  # exponential moving average of the generator weights: sample from this
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    config: TrainConfig
    device: torch.device
    rng: torch.Generator  # noise, instance noise and penalty interpolation
    np_rng: np.random.Generator  # for callbacks that need numpy randomness
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    loader_state: Tensor | None = None  # the loader generator's state at the epoch start
    history: list[dict[str, float]] = field(default_factory=list)
    out_dir: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # stored as is in the checkpoint
    full_config: dict[str, Any] = field(default_factory=dict)
    # fp16 loss scalers of the D and G updates; None without fp16
    scaler_d: torch.amp.GradScaler | None = None
    scaler_g: torch.amp.GradScaler | None = None

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint dict (tensors and plain values only, for ``weights_only``)."""
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "loader": {
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "state": self.loader_state,
            },
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "config": self.full_config,
            "rng": capture_rng_states(self.rng, self.np_rng),
            "meta": self.meta,
        }
        if self.scaler_d is not None and self.scaler_g is not None:
            ckpt["grad_scaler"] = {"d": self.scaler_d.state_dict(), "g": self.scaler_g.state_dict()}
        return ckpt

    def restore(self, ckpt: dict[str, Any], path: str | Path | None = None) -> None:
        """Load a checkpoint dict into this state (models, optimisers, RNGs, position)."""
        load_state(self.generator, ckpt["generator"], name="generator", path=path)
        load_state(self.discriminator, ckpt["discriminator"], name="discriminator", path=path)
        load_state(self.ema, ckpt["ema"], name="ema", path=path)
        _load_optimizer(self.opt_g, ckpt["opt_g"], name="opt_g", path=path)
        _load_optimizer(self.opt_d, ckpt["opt_d"], name="opt_d", path=path)
        restore_rng_states(ckpt["rng"], self.rng, self.np_rng, path=path)
        scalers = ckpt.get("grad_scaler")
        if self.scaler_d is not None and self.scaler_g is not None:
            if scalers:
                load_state(self.scaler_d, scalers.get("d"), name="grad_scaler", path=path)
                load_state(self.scaler_g, scalers.get("g"), name="grad_scaler", path=path)
            else:
                log.info("the checkpoint has no fp16 loss scales (an fp32 or bf16 run): fresh ones")
        position = ckpt.get("loader") or {}
        self.step = int(ckpt["step"])
        self.epoch = int(position.get("epoch", 0))
        self.batch_in_epoch = int(position.get("batch_in_epoch", 0))
        self.loader_state = position.get("state")


# Adam settings that say how it computes, not what: this run's, not the checkpoint's.
_OPTIMIZER_IMPL = ("fused", "foreach", "capturable", "differentiable")


def _load_optimizer(
    opt: torch.optim.Optimizer, saved: Any, *, name: str, path: str | Path | None
) -> None:
    """Load an optimiser's state, keeping this run's implementation (fused for fp16 or not).

    ``load_state_dict`` would take the implementation from the checkpoint with the rest of the
    hyper-parameters. Adam's ``step`` counts then go where this implementation keeps them:
    on the parameters' device when fused, else on the CPU (a count on the GPU would be read
    back to the host by every unfused step).
    """
    impl = [{k: g[k] for k in _OPTIMIZER_IMPL if k in g} for g in opt.param_groups]
    load_state(opt, saved, name=name, path=path)
    for group, keep in zip(opt.param_groups, impl, strict=True):
        group.update(keep)
        on_device = bool(group.get("fused") or group.get("capturable"))
        for p in group["params"]:
            s = opt.state.get(p, {})
            if torch.is_tensor(s.get("step")):
                where = p.device if on_device else torch.device("cpu")
                s["step"] = s["step"].to(dtype=torch.float32, device=where)


def epoch_loader(
    *tensors: Tensor | np.ndarray,
    batch_size: int,
    seed: int,
    drop_last: bool = True,
    rank: int | None = None,
    world_size: int | None = None,
) -> Callable[[int], DataLoader]:
    """A loader factory for :func:`fit_gan`: ``epoch -> DataLoader`` shuffled by ``seed + epoch``.

    Batches are gathered by one fancy-index per batch (a batch sampler over a
    ``TensorDataset``), not sample by sample, which keeps data loading out of the profile.
    ``rank`` and ``world_size`` (default: those of the initialised process group, else 0 and
    1) make each process yield its slice of every global batch of ``batch_size``; see
    :func:`dataset_loader`.

    Examples
    --------
    >>> X, y = torch.randn(10, 6, 50), torch.arange(10) % 2
    >>> make = epoch_loader(X, y, batch_size=4, seed=0)
    >>> [b[0].shape[0] for b in make(0)]
    [4, 4]
    >>> torch.equal(next(iter(make(3)))[1], next(iter(make(3)))[1])
    True
    """
    data = TensorDataset(*(torch.as_tensor(t) for t in tensors))
    return dataset_loader(
        data,
        batch_size=batch_size,
        seed=seed,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
    )


def dataset_loader(
    data: Dataset,
    *,
    batch_size: int,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
) -> Callable[[int], DataLoader]:
    """:func:`epoch_loader` for any map-style dataset that takes a list of indices at once.

    ``data[indices]`` must return the whole batch as a tuple of tensors (a ``TensorDataset``
    does; so does :class:`imusynth.data.stream.WindowStream`, which reads the windows from an
    HDF5 file). The same ``seed`` gives the same batches, whatever the dataset.

    Parameters
    ----------
    data : Dataset
    batch_size : int
        The global batch: what one process would use alone.
    seed : int
        Epoch ``e`` is shuffled by a generator seeded with ``seed + e``.
    drop_last : bool
        Drop the last, smaller batch of an epoch (required with several processes).
    num_workers : int
        DataLoader worker processes (each opens the dataset's files itself).
    rank, world_size : int, optional
        Yield only this process's ``1/world_size`` slice of every global batch. Default: the
        initialised process group's, else the whole batch. The returned factory then has
        ``batch_shard = (rank, world_size)``, which tells :func:`fit_gan` so.

    Examples
    --------
    >>> data = TensorDataset(torch.arange(12.0).view(12, 1), torch.arange(12))
    >>> whole = next(iter(dataset_loader(data, batch_size=4, seed=0)(0)))[1]
    >>> parts = [next(iter(dataset_loader(data, batch_size=4, seed=0, rank=r, world_size=2)(0)))
    ...          for r in (0, 1)]
    >>> torch.equal(torch.cat([p[1] for p in parts]), whole)
    True
    """
    ctx = distributed_context()
    rank = ctx.rank if rank is None else rank
    world_size = ctx.world_size if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} of {world_size} processes", field="rank")
    n = len(data)  # type: ignore[arg-type]
    if n < batch_size and drop_last:
        raise DataError(
            f"only {n} training windows for a batch of {batch_size}", field="train.batch_size"
        )
    if world_size > 1 and (batch_size % world_size or not drop_last):
        raise ConfigError(
            f"a batch of {batch_size} does not split evenly over {world_size} processes "
            "(use a multiple, and drop_last)",
            field="train.batch_size",
        )

    def make(epoch: int) -> DataLoader:
        gen = torch.Generator().manual_seed(seed + epoch)
        sampler: Iterable[list[int]] = torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(data, generator=gen), batch_size, drop_last
        )
        if world_size > 1:
            sampler = _ShardedBatches(sampler, rank, world_size)  # type: ignore[arg-type]
        # batch_size=None: the sampler yields whole index lists; the dataset indexes them at
        # once and no collation is needed.
        return DataLoader(
            data,
            sampler=sampler,  # type: ignore[arg-type]
            batch_size=None,
            num_workers=num_workers,
        )

    if world_size > 1:
        make.batch_shard = (rank, world_size)  # type: ignore[attr-defined]
    return make


class _ShardedBatches:
    """This process's equal slice of every index list a batch sampler yields."""

    def __init__(self, batches: torch.utils.data.BatchSampler, rank: int, world: int) -> None:
        self.batches, self.rank, self.world = batches, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for idx in self.batches:
            n = len(idx) // self.world
            yield idx[self.rank * n : (self.rank + 1) * n]

    def __len__(self) -> int:
        return len(self.batches)


def fit_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    loader: LoaderLike,
    config: TrainConfig | GANConfig,
    callbacks: Sequence[Callback] = (),
    *,
    device: str | torch.device = "cpu",
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    meta: dict[str, Any] | None = None,
) -> GANTrainingState:
    """Train a GAN: ``n_critic`` x "update D", then "update G", for ``config.steps`` steps.

    Parameters
    ----------
    generator, discriminator : nn.Module
        Models following the protocol in this module's docstring; moved to ``device`` and
        trained in place.
    loader : iterable or callable
        Batches of ``(x, y)``; see the loader contract in this module's docstring.
    config : TrainConfig or GANConfig
        The ``train`` section is used; a whole :class:`GANConfig` is also stored in the
        checkpoints, so a run can be rebuilt from one.
    callbacks : sequence of Callback
        Called after steps, metrics rows and at the end (e.g. sample figures); with several
        processes on rank 0 only.
    device : str or torch.device
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (under a process group: this process's GPU).
    out_dir : str or Path, optional
        Where ``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end) and
        ``metrics.csv`` go; ``None`` writes nothing. With several processes only rank 0's
        matters; the others write nothing.
        While the loop runs it holds the folder's writer lock (:mod:`imusynth.locks`): a second
        process training into the same folder is refused. Temporary files a killed run left
        behind (``.checkpoint.pt.*.tmp``) are removed at the start.
    resume : bool
        Continue from ``out_dir/checkpoint.pt``. With a resumable loader, the final weights are
        bitwise equal to an uninterrupted run's on the CPU. A run killed before its first
        checkpoint has nothing to continue from: it starts again from step 0 (logged), its
        ``metrics.csv`` cleared. A partial last line of ``metrics.csv`` (a kill while it was
        written) is dropped. With several processes rank 0's
        ``resume`` counts: it reads the checkpoint and sends it to the others, which need no
        ``out_dir``; the checkpoint may come from a run with another number of processes.
    progress : bool
        Show a tqdm bar with the losses.
    meta : dict, optional
        Plain values stored in every checkpoint under ``"meta"`` (normaliser, class names...).

    Returns
    -------
    GANTrainingState
        ``state.ema`` is the generator to sample from; ``state.history`` the metrics rows.

    Raises
    ------
    DivergenceError
        A loss or weight became NaN or Inf (checked every ``log_every`` steps and before each
        checkpoint, so no bad weights are ever written).
    CheckpointError
        ``resume`` with a corrupt or incompatible checkpoint, or without ``out_dir``.
    LockError
        Another process is writing to ``out_dir``.
    ConfigError
        ``train.precision`` unknown, or fp16 on the CPU; ``train.compile`` on a machine where
        :func:`torch.compile` cannot work.

    Examples
    --------
    >>> from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
    >>> X, y = torch.randn(32, 6, 64), torch.arange(32) % 2
    >>> g = Conv1dGenerator(6, 64, 2, width=32, n_blocks=2)
    >>> d = ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2)
    >>> cfg = TrainConfig(steps=4, batch_size=8, log_every=2)
    >>> state = fit_gan(g, d, epoch_loader(X, y, batch_size=8, seed=0), cfg)
    >>> state.step, len(state.history)
    (4, 2)
    """
    train = config.train if isinstance(config, GANConfig) else config
    dev = resolve_device(device)
    check_train_setup(train, dev)
    amp = _Amp.of(train, dev)
    writes = out_dir is not None and distributed_context().is_main
    with contextlib.ExitStack() as stack:
        if writes:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(out_dir, "run folder"))
            _remove_stale_temporaries(Path(out_dir))
        return _fit_gan(
            generator,
            discriminator,
            loader,
            config,
            callbacks,
            dev=dev,
            amp=amp,
            out_dir=out_dir,
            resume=resume,
            progress=progress,
            meta=meta,
        )


def check_train_setup(config: TrainConfig, device: str | torch.device) -> None:
    """Check that ``config`` can train on ``device``, so callers can refuse before they write.

    ``train.precision`` must be known and supported there (fp16 needs CUDA; bf16 on CUDA a
    GPU with native bfloat16) and ``train.compile`` must be able to work.

    Raises
    ------
    ConfigError
        Naming ``train.precision`` or ``train.compile``.

    Examples
    --------
    >>> check_train_setup(TrainConfig(precision="fp32"), "cpu")
    >>> try:
    ...     check_train_setup(TrainConfig(precision="fp16"), "cpu")
    ... except ConfigError as exc:
    ...     exc.field
    'train.precision'
    """
    dev = resolve_device(device)
    _Amp.of(config, dev)
    if config.compile:
        _check_compile(dev)


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Delete checkpoint temporaries a killed writer left (the caller holds the lock)."""
    for tmp in run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
        log.info("removing %s, left by an interrupted checkpoint write", tmp)
        tmp.unlink(missing_ok=True)


def _fit_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    loader: LoaderLike,
    config: TrainConfig | GANConfig,
    callbacks: Sequence[Callback],
    *,
    dev: torch.device,
    amp: _Amp,
    out_dir: str | Path | None,
    resume: bool,
    progress: bool,
    meta: dict[str, Any] | None,
) -> GANTrainingState:
    train = config.train if isinstance(config, GANConfig) else config
    full = config_to_dict(config) if isinstance(config, GANConfig) else {}
    full = full or {"train": dataclasses.asdict(train)}
    ctx = distributed_context()
    generator.to(dev).train()
    discriminator.to(dev).train()
    ema = copy.deepcopy(generator).requires_grad_(False)
    betas = (train.beta1, train.beta2)
    # fp16: fused Adam takes the loss scale and the inf flag as tensors, so GradScaler.step
    # need not read the flag on the host every step (fp32 and bf16 keep the default Adam).
    fused = {"fused": True} if amp.scaled else {}
    state = GANTrainingState(
        generator=generator,
        discriminator=discriminator,
        ema=ema,
        opt_g=torch.optim.Adam(generator.parameters(), lr=train.lr_g, betas=betas, **fused),
        opt_d=torch.optim.Adam(discriminator.parameters(), lr=train.lr_d, betas=betas, **fused),
        config=train,
        device=dev,
        rng=torch.Generator(device=dev).manual_seed(train.seed),
        np_rng=np.random.default_rng(train.seed),
        # Rank 0 alone writes; the other processes train in memory.
        out_dir=None if out_dir is None or not ctx.is_main else Path(out_dir),
        meta=dict(meta or {}),
        full_config=full,
    )
    if amp.scaled:
        state.scaler_d = torch.amp.GradScaler(dev.type)
        state.scaler_g = torch.amp.GradScaler(dev.type)
    ckpt_path = None if state.out_dir is None else state.out_dir / CHECKPOINT_NAME
    if resume and ckpt_path is not None and not ckpt_path.exists():
        # Killed before its first checkpoint: nothing to continue, so start over.
        log.warning("no checkpoint in %s yet: training starts from step 0", state.out_dir)
        resume = False
    if ctx.active:
        # Rank 0 holds the run folder, so its choice counts (a caller may decide to resume by
        # whether a checkpoint exists, which only rank 0 can see).
        agreed = [bool(resume)]
        dist.broadcast_object_list(agreed, src=0)
        resume = agreed[0]
    if resume and ctx.active:
        _resume_distributed(state, ckpt_path, full)
    elif resume:
        if ckpt_path is None:
            raise CheckpointError("resume needs the run folder", field="out_dir")
        ckpt = load_checkpoint(ckpt_path, map_location=dev)
        _check_same_model(ckpt, full, ckpt_path)
        state.restore(ckpt, ckpt_path)
        state.history = _read_metrics(state.out_dir / METRICS_NAME, state.step)
        log.info("resumed %s at step %d", ckpt_path, state.step)
    elif state.out_dir is not None:
        (state.out_dir / METRICS_NAME).unlink(missing_ok=True)

    nets = _Nets.build(generator, discriminator, dev, distributed=ctx.active, compile=train.compile)
    if ctx.active:
        batch_stats = sorted(
            {type(m).__name__ for m in (*generator.modules(), *discriminator.modules())}
            & _BATCH_STAT_LAYERS
        )
        if batch_stats and ctx.is_main:
            log.info(
                "%s see 1/%d of each batch per process: the run differs slightly from one "
                "process with the same batch (model.minibatch_std=false for an exact match)",
                ", ".join(batch_stats),
                ctx.world_size,
            )
    try:
        _train(state, nets, amp, _Shard.of(ctx, loader), loader, callbacks, ckpt_path, progress)
    except Exception as exc:
        if train.compile and _is_compile_error(exc):
            raise _compile_config_error(exc) from exc
        raise
    return state


# Layers whose output depends on the other samples of the batch (by class name).
_BATCH_STAT_LAYERS = {"MinibatchStd", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}


@dataclass
class _Nets:
    """The modules each update calls: the plain models, their DDP wrappers, compiled or not.

    Only the model being updated goes through DDP: the discriminator in "update D", the
    generator in "update G". The other is called plain (without gradients for its weights),
    so no DDP wrapper waits for gradients its model does not get. With ``train.compile`` all
    are compiled except ``D_penalty``, the discriminator of the passes that differentiate
    twice (compiled graphs have no double backward).
    """

    G: nn.Module  # "update G": the generator, with gradients
    D: nn.Module  # "update D": the discriminator, with gradients
    G_frozen: nn.Module  # "update D": the generator, without gradients
    D_frozen: nn.Module  # "update G": the discriminator, its weights frozen
    D_penalty: nn.Module  # "update D": R1 and WGAN-GP passes

    @classmethod
    def build(
        cls, G: nn.Module, D: nn.Module, dev: torch.device, *, distributed: bool, compile: bool
    ) -> _Nets:
        G_up, D_up = G, D
        if distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [dev] if dev.type == "cuda" else None
            # Wrapping broadcasts rank 0's weights and buffers, and by default DDP does that
            # again for the buffers before every forward, so spectral-norm power-iteration
            # vectors and BatchNorm running statistics cannot drift apart between processes.
            G_up, D_up = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
        if not compile:
            return cls(G_up, D_up, G, D, D_up)
        compiled: dict[int, nn.Module] = {}  # one compiled wrapper per module

        def fast(m: nn.Module) -> nn.Module:
            if id(m) not in compiled:
                try:
                    compiled[id(m)] = torch.compile(m)  # type: ignore[assignment]
                except Exception as exc:  # e.g. a Python version Dynamo does not support
                    raise _compile_config_error(exc) from exc
            return compiled[id(m)]

        return cls(fast(G_up), fast(D_up), fast(G), fast(D), D_up)


# fp16 autocast and loss scaling are for GPUs (on the CPU, fp16 convolutions are slow or
# emulated, and bf16 has the range fp16 lacks). Tests widen this to run the fp16 path.
_FP16_DEVICES = ("cuda",)


@dataclass(frozen=True)
class _Amp:
    """Mixed precision of a run (see "Precision and compilation" in the module docstring)."""

    device_type: str
    dtype: torch.dtype | None = None  # None: float32 throughout, no autocast
    scaled: bool = False  # fp16: losses scaled by GradScalers

    @classmethod
    def of(cls, cfg: TrainConfig, dev: torch.device) -> _Amp:
        if cfg.precision not in PRECISIONS:
            raise ConfigError(
                f"expected one of {', '.join(PRECISIONS)}, got {cfg.precision!r}",
                field="train.precision",
            )
        if cfg.precision == "fp16" and dev.type not in _FP16_DEVICES:
            raise ConfigError(
                f"fp16 needs a CUDA device (this run is on {dev.type}); use bf16 or fp32 there",
                field="train.precision",
            )
        if cfg.precision == "bf16" and dev.type == "cuda" and not _cuda_bf16(dev):
            raise ConfigError(
                "this GPU has no native bfloat16; use fp16 or fp32", field="train.precision"
            )
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
        return cls(dev.type, dtype, cfg.precision == "fp16")

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()  # fp32: not even a disabled autocast
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_step(
        self, loss: Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None
    ) -> None:
        """``loss.backward()`` and ``opt.step()``; with fp16 through the loss scaler."""
        if scaler is None:
            loss.backward()
            opt.step()
            return
        scaler.scale(loss).backward()
        scaler.step(opt)  # skips the step if a gradient overflowed; no host sync (fused Adam)
        scaler.update()


def _cuda_bf16(dev: torch.device) -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # older torch without the argument
        return torch.cuda.is_bf16_supported()


def _check_compile(dev: torch.device) -> None:
    """Fail early, before any training, where torch.compile's default backend cannot work."""
    reason = None
    try:
        if dev.type == "cpu":
            from torch._inductor import cpp_builder

            cpp_builder.get_cpp_compiler()  # raises InvalidCxxCompiler without one
        elif dev.type == "cuda":
            from torch.utils._triton import has_triton

            if not has_triton():
                reason = "Triton is not installed"
    except ImportError:
        pass  # the helpers moved: the first compiled call will tell
    except Exception as exc:
        reason = f"no working C++ compiler for the CPU backend ({_first_line(exc)})"
    if reason:
        raise ConfigError(
            f"torch.compile cannot work here: {reason}; set train.compile=false",
            field="train.compile",
        )


def _is_compile_error(exc: BaseException) -> bool:
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:
        return False
    return isinstance(exc, TorchDynamoException)


def _compile_config_error(exc: BaseException) -> ConfigError:
    return ConfigError(
        f"torch.compile failed ({type(exc).__name__}: {_first_line(exc)[:300]}); "
        "set train.compile=false",
        field="train.compile",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class _Shard:
    """Which rows of each global batch, and of the global noise, this process keeps."""

    rank: int = 0
    world: int = 1
    presliced: bool = False  # the loader already yields only this process's rows

    @classmethod
    def of(cls, ctx: DistContext, loader: LoaderLike) -> _Shard:
        shard = getattr(loader, "batch_shard", None)
        if shard is not None and tuple(shard) != (ctx.rank, ctx.world_size):
            raise ConfigError(
                f"the loader yields slices for process {shard[0]} of {shard[1]}, but this is "
                f"process {ctx.rank} of {ctx.world_size}",
                field="loader",
            )
        return cls(ctx.rank, ctx.world_size, shard is not None and ctx.active)

    def batch(self, batch: Batch) -> tuple[Batch, int]:
        """This process's rows of ``batch``, and the size of the global batch."""
        n = (batch if isinstance(batch, Tensor) else batch[0]).shape[0]
        if self.world == 1:
            return batch, n
        if self.presliced:
            return batch, n * self.world
        if n % self.world:
            raise DataError(
                f"a batch of {n} does not split evenly over {self.world} processes "
                "(use a multiple of the number of processes, and drop the last batch)",
                field="train.batch_size",
            )
        rows = self.rows(n)
        if isinstance(batch, Tensor):
            return batch[rows], n
        return [t[rows] for t in batch], n

    def rows(self, n: int) -> slice:
        b = n // self.world
        return slice(self.rank * b, (self.rank + 1) * b)

    def take(self, t: Tensor, n: int) -> Tensor:
        """This process's rows of ``t``, drawn for the whole global batch of ``n``."""
        return t if self.world == 1 else t[self.rows(n)]


def _resume_distributed(
    state: GANTrainingState, ckpt_path: Path | None, full: dict[str, Any]
) -> None:
    """Rank 0 reads the checkpoint and the metrics so far and sends them to every process.

    A checkpoint holds nothing that depends on the number of processes, so it resumes
    whatever the number of processes that wrote it. A user error on rank 0 is raised on
    every process (none is left waiting).
    """
    payload: list[Any] = [None]
    if distributed_context().is_main:
        try:
            if ckpt_path is None:
                raise CheckpointError("resume needs the run folder", field="out_dir")
            ckpt = load_checkpoint(ckpt_path, map_location="cpu")
            _check_same_model(ckpt, full, ckpt_path)
            history = _read_metrics(ckpt_path.parent / METRICS_NAME, int(ckpt["step"]))
            payload = [("ok", ckpt, history)]
        except ImusynthError as exc:
            payload = [("error", type(exc).__name__, exc.message, exc.path, exc.field)]
    dist.broadcast_object_list(payload, src=0)
    kind, *rest = payload[0]
    if kind == "error":
        name, message, path, field_ = rest
        raise _ERRORS.get(name, CheckpointError)(message, path=path, field=field_)
    ckpt, history = rest
    state.restore(ckpt, ckpt_path)
    state.history = history
    log.info("resumed %s at step %d", ckpt_path or "rank 0's checkpoint", state.step)


_ERRORS: dict[str, type[ImusynthError]] = {
    e.__name__: e for e in (CheckpointError, ConfigError, DataError, SpecError, StoreError)
}


def _train(
    state: GANTrainingState,
    nets: _Nets,
    amp: _Amp,
    shard: _Shard,
    loader: LoaderLike,
    callbacks: Sequence[Callback],
    ckpt_path: Path | None,
    progress: bool,
) -> None:
    cfg, dev = state.config, state.device
    G, D = state.generator, state.discriminator
    d_loss_fn, g_loss_fn = ADVERSARIAL_LOSSES[cfg.loss]
    conditional = getattr(G, "num_classes", 0) > 0
    use_side = getattr(G, "n_sides", 0) > 0
    penalty_fn = getattr(G, "penalty", None)
    main, many = shard.rank == 0, shard.world > 1
    callbacks = callbacks if main else ()
    batches = _BatchStream(loader, state)
    stats = torch.zeros(len(STATS), device=dev)  # running sums on the device: no sync per step
    n_acc = 0
    last_good = None if not ckpt_path or not ckpt_path.exists() else ckpt_path
    bar = tqdm(
        total=cfg.steps,
        initial=state.step,
        disable=not (progress and main),
        desc="gan",
        leave=False,
    )
    t_log = time.perf_counter()
    try:
        while state.step < cfg.steps:
            sigma = cfg.instance_noise * max(0.0, 1.0 - state.step / cfg.steps)
            # ---- update D: n_critic discriminator steps on fresh batches ----
            for _ in range(cfg.n_critic):
                # Every draw is for the global batch of n; each process keeps its rows.
                batch, n = shard.batch(batches.next())
                x, cond = _to_device(batch, dev, conditional, use_side)
                z = _randn((n, G.latent_dim), state.rng, dev, shard)
                with torch.no_grad(), amp.autocast():
                    # back to full precision whatever autocast computed in (a no-op in fp32)
                    fake = _full(nets.G_frozen(z, *cond))
                real_in = _d_input(x, sigma, cfg.augment_shift, state.rng, shard, n)
                if cfg.r1_weight > 0:
                    # R1 differentiates this pass twice: float32 and uncompiled D
                    real_in = real_in.detach().requires_grad_(True)
                    adv_real, cls_real = _float(nets.D_penalty(real_in, *cond))
                else:
                    with amp.autocast():
                        adv_real, cls_real = _float(nets.D(real_in, *cond))
                fake_in = _d_input(fake, sigma, cfg.augment_shift, state.rng, shard, n)
                with amp.autocast():
                    adv_fake, _ = _float(nets.D(fake_in, *cond))
                loss_d = d_loss_fn(adv_real, adv_fake)
                d_penalty = torch.zeros((), device=dev)
                if cfg.loss == "wgan-gp":  # float32, uncompiled D (differentiated twice)
                    if many:
                        gp = _sharded_gradient_penalty(
                            nets.D_penalty, x, fake, cond, state.rng, shard, n
                        )
                    else:
                        gp = gradient_penalty(nets.D_penalty, x, fake, *cond, generator=state.rng)
                    d_penalty = cfg.gp_weight * gp
                if cfg.r1_weight > 0:
                    d_penalty = d_penalty + 0.5 * cfg.r1_weight * r1_penalty(adv_real, real_in)
                # AC-GAN: the discriminator's classifier learns from real windows only, so it
                # is never rewarded for telling classes of unconvincing fakes apart.
                ac_d = classifier_loss(cls_real, cond[0]) if cls_real is not None else d_penalty * 0
                state.opt_d.zero_grad(set_to_none=True)
                amp.backward_step(
                    loss_d + d_penalty + cfg.ac_weight * ac_d, state.opt_d, state.scaler_d
                )

            # ---- update G: fool D on the labels of the last batch ----
            z = _randn((n, G.latent_dim), state.rng, dev, shard)
            D.requires_grad_(False)  # no discriminator weight gradients in this step
            with amp.autocast():
                fake = _full(nets.G(z, *cond))
            fake_in = _d_input(fake, sigma, cfg.augment_shift, state.rng, shard, n)
            with amp.autocast():
                adv_g, cls_g = _float(nets.D_frozen(fake_in, *cond))
            loss_g = g_loss_fn(adv_g)
            ac_g = classifier_loss(cls_g, cond[0]) if cls_g is not None else loss_g.detach() * 0
            g_penalty = _full(penalty_fn()) if penalty_fn is not None else loss_g.detach() * 0
            state.opt_g.zero_grad(set_to_none=True)
            amp.backward_step(
                loss_g + cfg.ac_weight * ac_g + cfg.residual_weight * g_penalty,
                state.opt_g,
                state.scaler_g,
            )
            D.requires_grad_(True)
            _update_ema(state.ema, G, _ema_decay(cfg.ema_decay, state.step))
            state.step += 1
            bar.update(1)

            parts = (loss_d, loss_g, adv_real.mean(), adv_fake.mean(), d_penalty, ac_d, ac_g)
            stats += torch.stack([p.detach().float() for p in (*parts, g_penalty)])
            n_acc += 1
            last = state.step == cfg.steps
            if state.step % cfg.log_every == 0 or last:
                now = time.perf_counter()
                means = stats / n_acc
                if many:  # means of equal slices: their average is the global batch's mean
                    dist.all_reduce(means)
                    means /= shard.world
                row = _log_row(state, means, n_acc / (now - t_log), sigma, last_good)
                stats.zero_()
                n_acc, t_log = 0, now
                bar.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
                for cb in callbacks:
                    cb.on_log(state, row)
            if last or (cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0):
                # Every process checks (the weights are the same), so all stop together. A
                # host sync, once per checkpoint: no NaN weights are ever written.
                if ckpt_path is not None or many:
                    _check_finite_weights(state, last_good)
                if ckpt_path is not None:
                    save_checkpoint(ckpt_path, state.checkpoint())
                    last_good = ckpt_path
            for cb in callbacks:
                cb.on_step(state)
    finally:
        bar.close()
    for cb in callbacks:
        cb.on_end(state)
    if many:  # the others return once rank 0 has written the final checkpoint and figures
        dist.barrier()


class _BatchStream:
    """Endless batches over epochs, with the position kept in the training state."""

    def __init__(self, loader: LoaderLike, state: GANTrainingState) -> None:
        self.loader, self.state = loader, state
        self._rng = None if callable(loader) else _loader_generator(loader)
        self._it = self._start_epoch(state.loader_state)
        for i in range(state.batch_in_epoch):  # resume: skip what this epoch already used
            if next(self._it, None) is None:
                raise CheckpointError(
                    f"the loader has only {i} batches per epoch; the checkpoint was at batch "
                    f"{state.batch_in_epoch} (data or batch size changed since)",
                    field="loader",
                )

    def _start_epoch(self, restore: Tensor | None) -> Iterator[Batch]:
        if self._rng is not None:
            if restore is not None:
                self._rng.set_state(restore)
            self.state.loader_state = self._rng.get_state()
        source = self.loader(self.state.epoch) if callable(self.loader) else self.loader
        return iter(source)

    def next(self) -> Batch:
        for _ in range(2):
            batch = next(self._it, None)
            if batch is not None:
                self.state.batch_in_epoch += 1
                return batch
            if self.state.batch_in_epoch == 0:
                break
            self.state.epoch += 1
            self.state.batch_in_epoch = 0
            self._it = self._start_epoch(None)
        raise DataError(
            "the loader yielded no batches (fewer windows than one batch?)", field="loader"
        )


def _loader_generator(loader: Any) -> torch.Generator | None:
    gen = getattr(loader, "generator", None)
    if gen is None:
        gen = getattr(getattr(loader, "sampler", None), "generator", None)
    return gen if isinstance(gen, torch.Generator) else None


def _to_device(
    batch: Batch, dev: torch.device, conditional: bool, use_side: bool
) -> tuple[Tensor, tuple[Tensor | None, ...]]:
    if isinstance(batch, Tensor):
        batch = (batch,)
    x = batch[0].to(dev, non_blocking=True)
    if not conditional:
        return x, (None,)
    if len(batch) < 2:
        raise DataError("a conditional GAN needs (x, y) batches", field="loader")
    y = batch[1].to(dev, non_blocking=True).long()
    if use_side and len(batch) > 2:
        return x, (y, batch[2].to(dev, non_blocking=True).long())
    return x, (y,)


def _split(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, None


def _float(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """:func:`_split` with the logits in full precision, for the losses (a no-op in fp32)."""
    adv, cls = _split(out)
    return _full(adv), None if cls is None else _full(cls)


def _full(t: Tensor) -> Tensor:
    """A 16-bit tensor from autocast in float32; any other as it is (float64 stays)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _randn(shape: tuple[int, ...], rng: torch.Generator, dev, shard: _Shard) -> Tensor:
    """Normal noise for the global batch ``shape[0]``; this process's rows of it."""
    return shard.take(torch.randn(shape, generator=rng, device=dev), shape[0])


def _d_input(
    x: Tensor,
    sigma: float,
    shift: float,
    rng: torch.Generator,
    shard: _Shard = _Shard(),
    n: int | None = None,
) -> Tensor:
    """What the discriminator sees: ``x`` randomly shifted, plus instance noise.

    ``x`` holds this process's rows of a global batch of ``n`` (default: all of it).
    """
    n = x.shape[0] if n is None else n
    if shift > 0:
        x = _random_shift(x, shift, rng, shard, n)
    if sigma > 0:
        # Instance noise (Sønderby et al. 2017): blurs real and fake alike so early on their
        # supports overlap and the discriminator cannot separate them perfectly.
        noise = torch.randn((n, *x.shape[1:]), generator=rng, device=x.device, dtype=x.dtype)
        x = x + sigma * shard.take(noise, n)
    return x


def random_shift(x: Tensor, fraction: float, rng: torch.Generator) -> Tensor:
    """Shift each sample circularly by up to ``fraction`` of its length along every axis
    after the channel axis (time for ``(B, C, T)``; height and width for images).

    Differentiable augmentation (DiffAugment, Zhao et al. 2020): applied to real and fake
    discriminator inputs alike, in both updates, it keeps a discriminator trained on a
    few thousand windows from memorising them, without the generator learning the
    augmentation. Where a window starts is arbitrary, so a shift is label-preserving.

    Examples
    --------
    >>> x = torch.arange(8.0).view(1, 1, 8)  # (B, C, T)
    >>> y = random_shift(x, 0.5, torch.Generator().manual_seed(0))
    >>> sorted(y.flatten().tolist()) == x.flatten().tolist()
    True
    """
    return _random_shift(x, fraction, rng, _Shard(), x.shape[0])


def _random_shift(x: Tensor, fraction: float, rng: torch.Generator, shard: _Shard, n: int):
    for dim in range(2, x.ndim):
        length = x.shape[dim]
        max_shift = int(fraction * length)
        if max_shift < 1:
            continue
        s = torch.randint(-max_shift, max_shift + 1, (n,), generator=rng, device=x.device)
        s = shard.take(s, n)  # this process's rows of the global batch's shifts
        view = [1] * x.ndim
        view[dim] = length
        per_sample = s.view([-1] + [1] * (x.ndim - 1))  # (B, 1, ...)
        idx = (torch.arange(length, device=x.device).view(view) - per_sample) % length
        x = x.gather(dim, idx.expand(x.shape))  # (B, C, ...) rolled per sample
    return x


def _sharded_gradient_penalty(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    cond: tuple[Tensor | None, ...],
    rng: torch.Generator,
    shard: _Shard,
    n: int,
) -> Tensor:
    """:func:`~imusynth.train.losses.gradient_penalty` on this process's rows, with the
    interpolation weights drawn for the global batch (so the random state stays global)."""
    shape = (n,) + (1,) * (real.ndim - 1)  # (B, 1, 1[, 1]) broadcasts over x
    eps = shard.take(torch.rand(shape, generator=rng, device=real.device, dtype=real.dtype), n)
    return gradient_penalty(D, real, fake, *cond, eps=eps)


def _ema_decay(decay: float, step: int) -> float:
    # Warm-up, so the average does not drag the random initial weights through a short run.
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def _metric_value(key: str | None, value: str | None) -> float:
    if key is None or value is None:  # more or fewer fields than the header
        raise ValueError("wrong number of fields")
    # Counts stay integers, as _log_row writes them ("10", not "10.0").
    return int(value) if key in ("step", "epoch") else float(value)


def _log_row(
    state: GANTrainingState, means: Tensor, steps_per_s: float, sigma: float, last_good
) -> dict[str, float]:
    values = means.tolist()  # the one host-device sync of a log period
    row: dict[str, float] = {"step": state.step, "epoch": state.epoch}
    row.update(zip(STATS, values, strict=True))
    row["noise_std"] = sigma
    row["steps_per_s"] = steps_per_s
    if not all(math.isfinite(v) for v in values):
        bad = ", ".join(
            f"{k}={v}" for k, v in zip(STATS, values, strict=True) if not math.isfinite(v)
        )
        _diverged(state, f"non-finite loss by step {state.step} ({bad})", last_good)
    state.history.append(row)
    if state.out_dir is not None:
        path = state.out_dir / METRICS_NAME
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
    return row


def _check_finite_weights(state: GANTrainingState, last_good) -> None:
    params = [*state.generator.parameters(), *state.discriminator.parameters()]
    finite = torch.stack([torch.isfinite(p).all() for p in params]).all()
    if not bool(finite):  # the one host sync of a checkpoint step
        _diverged(state, f"non-finite weights at step {state.step}", last_good)


def _diverged(state: GANTrainingState, what: str, last_good) -> None:
    keep = f"; the last good checkpoint is kept at {last_good}" if last_good else ""
    fp32 = " or train.precision=fp32" if state.config.precision != "fp32" else ""
    raise DivergenceError(
        f"training diverged: {what}{keep}. Lower train.lr_g / train.lr_d, or use "
        f"train.loss=hinge or a penalty (train.r1_weight){fp32}",
        path=last_good,
        field="train",
    )


def _check_same_model(ckpt: dict[str, Any], full: dict[str, Any], path: Path) -> None:
    saved = (ckpt.get("config") or {}).get("model")
    now = full.get("model")
    if saved is not None and now is not None and saved != now:
        diff = sorted(k for k in now if saved.get(k) != now.get(k))
        raise CheckpointError(
            f"the checkpoint was made with a different model config ({', '.join(diff)})",
            path=path,
            field=f"model.{diff[0]}" if diff else "model",
        )


def _read_metrics(path: Path, upto: int) -> list[dict[str, float]]:
    """Rows of an earlier run up to ``upto``; later rows (after the checkpoint) are dropped.

    A last line without its newline was cut by a kill while it was written: it is dropped
    (even if it parses, a number in it may be cut short), as is any row with missing or
    unreadable values.
    """
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        log.warning("%s: dropping its unfinished last line", path)
        text = text[: text.rfind("\n") + 1]
    rows = []
    for i, r in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append({k: _metric_value(k, v) for k, v in r.items()})
        except (TypeError, ValueError):
            log.warning("%s: line %d is unreadable; dropped", path, i)
    rows = [r for r in rows if r["step"] <= upto]
    if not rows:
        path.unlink()
        return rows
    tmp = path.with_name(f".{path.name}.tmp")
    try:  # a kill while the rows are rewritten leaves the old file whole
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows

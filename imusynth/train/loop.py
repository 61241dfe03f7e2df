"""The one GAN training loop, for 1D windows and 2D images alike: :func:`fit_gan`.

A step is one generator update after ``n_critic`` discriminator updates, the two visible
parts of :mod:`imusynth.train.step`; each discriminator update consumes one batch. The loop
never builds data. The rest of the trainer lives beside it: the loader contract and loader
factories in :mod:`imusynth.train.loaders`, the state a checkpoint saves in
:mod:`imusynth.train.state`, precision and ``torch.compile`` in
:mod:`imusynth.train.precision`, data-parallel training in :mod:`imusynth.train.parallel`,
``metrics.csv`` and the NaN guard in :mod:`imusynth.train.metrics_log`, and the hooks in
:mod:`imusynth.train.callbacks`. This module re-exports the names it always has.

Model protocol
--------------
Generator: an ``nn.Module`` with ``latent_dim: int`` and ``num_classes: int`` (0 means
unconditional); ``forward(z (B, latent_dim), y (B,) long | None[, side]) -> x`` in the
normalised space the discriminator sees, ``(B, C, T)`` or ``(B, 1, H, W)``. It may also have
``n_sides > 0`` (it then receives the arm side as a third argument when batches carry one)
and a ``penalty()`` method returning a scalar to add to its loss for its last forward.

Discriminator: ``forward(x, y | None[, side])`` returns adversarial logits ``(B,)`` or
``(logits (B,), class_logits (B, K))`` when it has an auxiliary classifier (AC-GAN).

Host-device syncs
-----------------
Nothing in a step waits for the device: losses are summed on the device and read once per
``log_every`` steps (the NaN guard then), and weights are checked for NaN before each
checkpoint. Those are the only syncs of the loop (models may add their own).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from imusynth.errors import CheckpointError
from imusynth.locks import folder_lock
from imusynth.runtime import DistContext, distributed_context, resolve_device
from imusynth.train.callbacks import Callback
from imusynth.train.checkpoint import (
    CHECKPOINT_NAME,
    check_same_model,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from imusynth.train.config import GANConfig, TrainConfig, config_to_dict
from imusynth.train.loaders import BatchStream, LoaderLike, dataset_loader, epoch_loader
from imusynth.train.metrics_log import (
    METRICS_NAME,
    STATS,
    DivergenceError,
    check_finite_weights,
    read_metrics,
)
from imusynth.train.metrics_log import log_row as _log_row  # a name tests hook
from imusynth.train.parallel import Nets, Shard, log_batch_stat_layers, resume_distributed
from imusynth.train.precision import (
    Amp,
    check_train_setup,
    compile_config_error,
    is_compile_error,
)
from imusynth.train.state import GANTrainingState
from imusynth.train.step import StepSetup, random_shift, update_d, update_g

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
        Batches of ``(x, y)``; see the loader contract in :mod:`imusynth.train.loaders`.
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
    train, full = _sections(config)
    dev = resolve_device(device)
    check_train_setup(train, dev)
    amp = Amp.of(train, dev)
    if train.precision == "auto":
        log.info("train.precision auto: %s on %s", amp.name, dev)
    ctx = distributed_context()
    # Rank 0 alone writes; the other processes train in memory.
    run_dir = None if out_dir is None or not ctx.is_main else Path(out_dir)
    with contextlib.ExitStack() as stack:
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(out_dir, "run folder"))
            remove_stale_temporaries(run_dir)
        state = _new_state(generator, discriminator, train, full, dev, amp, run_dir, meta)
        ckpt_path = _start_or_resume(state, full, resume, ctx)
        nets = Nets.build(
            generator, discriminator, dev, distributed=ctx.active, compile=train.compile
        )
        if ctx.active:
            log_batch_stat_layers(generator, discriminator, ctx)
        setup = StepSetup.of(state, nets, amp, Shard.of(ctx, loader))
        try:
            _train(state, setup, loader, callbacks, ckpt_path, progress)
        except Exception as exc:
            if train.compile and is_compile_error(exc):
                raise compile_config_error(exc) from exc
            raise
    return state


def _sections(config: TrainConfig | GANConfig) -> tuple[TrainConfig, dict[str, Any]]:
    """The ``train`` section, and the config as checkpoints store it (a whole
    :class:`GANConfig` when given one, so that a run can be rebuilt from its checkpoint)."""
    if isinstance(config, GANConfig):
        return config.train, config_to_dict(config)
    return config, {"train": dataclasses.asdict(config)}


def _new_state(
    generator: nn.Module,
    discriminator: nn.Module,
    train: TrainConfig,
    full: dict[str, Any],
    dev: torch.device,
    amp: Amp,
    run_dir: Path | None,
    meta: dict[str, Any] | None,
) -> GANTrainingState:
    """The state at step 0: models in training mode on ``dev``, the EMA copy, optimisers
    and seeded generators."""
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
        out_dir=run_dir,
        meta=dict(meta or {}),
        full_config=full,
    )
    if amp.scaled:
        state.scaler_d = torch.amp.GradScaler(dev.type)
        state.scaler_g = torch.amp.GradScaler(dev.type)
    return state


def _start_or_resume(
    state: GANTrainingState, full: dict[str, Any], resume: bool, ctx: DistContext
) -> Path | None:
    """Restore ``state`` from its run folder's checkpoint when resuming, else clear the old
    metrics; returns the checkpoint path (None without a run folder)."""
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
        resume_distributed(state, ckpt_path, full)
    elif resume:
        if ckpt_path is None:
            raise CheckpointError("resume needs the run folder", field="out_dir")
        ckpt = load_checkpoint(ckpt_path, map_location=state.device)
        check_same_model(ckpt, full, ckpt_path)
        state.restore(ckpt, ckpt_path)
        state.history = read_metrics(state.out_dir / METRICS_NAME, state.step)
        log.info("resumed %s at step %d", ckpt_path, state.step)
    elif state.out_dir is not None:
        (state.out_dir / METRICS_NAME).unlink(missing_ok=True)
    return ckpt_path


def _log_pace(state: GANTrainingState, step_start: int, seconds: float) -> None:
    rate = (state.step - step_start) / seconds
    total, where = state.config.steps, state.out_dir.name if state.out_dir else "gan"
    minutes = (total - state.step) / rate / 60
    left = f"about {minutes:.0f} min left" if minutes >= 1 else "under a minute left"
    log.info("%s: step %d/%d, %.2f steps/s, %s", where, state.step, total, rate, left)


def _train(
    state: GANTrainingState,
    setup: StepSetup,
    loader: LoaderLike,
    callbacks: Sequence[Callback],
    ckpt_path: Path | None,
    progress: bool,
) -> None:
    cfg, dev, shard = state.config, state.device, setup.shard
    main, many = shard.rank == 0, shard.world > 1
    callbacks = callbacks if main else ()
    batches = BatchStream(loader, state)
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
    t_log = t_start = time.perf_counter()
    step_start, tenth = state.step, max(1, cfg.steps // 10)
    try:
        while state.step < cfg.steps:
            sigma = cfg.instance_noise * max(0.0, 1.0 - state.step / cfg.steps)
            # ---- update D: n_critic discriminator steps on fresh batches ----
            for _ in range(cfg.n_critic):
                d = update_d(state, setup, batches.next(), sigma)
            # ---- update G: fool D on the labels of the last batch ----
            g = update_g(state, setup, d, sigma)
            state.step += 1
            bar.update(1)

            parts = (d.loss, g.loss, d.adv_real.mean(), d.adv_fake.mean(), d.penalty, d.ac, g.ac)
            stats += torch.stack([p.detach().float() for p in (*parts, g.penalty)])
            n_acc += 1
            last = state.step == cfg.steps
            if state.step % cfg.log_every == 0 or last:
                now = time.perf_counter()
                means = stats / n_acc
                if many:  # means of equal slices: their average is the global batch's mean
                    dist.all_reduce(means)
                    means /= shard.world
                extra = {k: v for cb in callbacks for k, v in cb.log_columns(state).items()}
                row = _log_row(state, means, n_acc / (now - t_log), sigma, last_good, extra)
                stats.zero_()
                n_acc, t_log = 0, now
                bar.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
                for cb in callbacks:
                    cb.on_log(state, row)
            if last or (cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0):
                # Every process checks (the weights are the same), so all stop together. A
                # host sync, once per checkpoint: no NaN weights are ever written.
                if ckpt_path is not None or many:
                    check_finite_weights(state, last_good)
                if ckpt_path is not None:
                    save_checkpoint(ckpt_path, state.checkpoint())
                    last_good = ckpt_path
            if main and bar.disable and state.step % tenth == 0 and not last:
                # without a bar (no terminal: nohup, a cluster, experiment workers) a log
                # line every tenth of the run
                _log_pace(state, step_start, time.perf_counter() - t_start)
            for cb in callbacks:
                cb.on_step(state)
    finally:
        bar.close()
    for cb in callbacks:
        cb.on_end(state)
    if many:  # the others return once rank 0 has written the final checkpoint and figures
        dist.barrier()

"""Data-parallel training: which rows each process keeps, the DDP wrappers, resuming.

When ``torch.distributed`` is initialised (``torchrun``; see
:func:`imusynth.runtime.init_distributed`) with ``N > 1`` processes, every process runs
the loop of :func:`imusynth.train.loop.fit_gan` on the same models and
:class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients. The run is the
single-process run with the same *global* batch:

* every process draws the same global batch (the same loader, seeded alike) and keeps its
  ``1/N`` slice: either the loop slices each batch, or the loader already yields only this
  process's slice when it says so with a ``batch_shard = (rank, world_size)`` attribute (as
  :func:`~imusynth.train.loaders.epoch_loader` and
  :func:`~imusynth.train.loaders.dataset_loader` do under a process group, so no process
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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from imusynth.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    ImusynthError,
    SpecError,
    StoreError,
)
from imusynth.runtime import DistContext, distributed_context
from imusynth.train.checkpoint import check_same_model, load_checkpoint
from imusynth.train.loaders import Batch, LoaderLike
from imusynth.train.metrics_log import METRICS_NAME, read_metrics
from imusynth.train.precision import compile_config_error

if TYPE_CHECKING:
    from imusynth.train.state import GANTrainingState

__all__ = ["BATCH_STAT_LAYERS", "Nets", "Shard", "log_batch_stat_layers", "resume_distributed"]

log = logging.getLogger(__name__)


# Layers whose output depends on the other samples of the batch (by class name).
BATCH_STAT_LAYERS = {"MinibatchStd", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}


@dataclass
class Nets:
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
    ) -> Nets:
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
                    raise compile_config_error(exc) from exc
            return compiled[id(m)]

        return cls(fast(G_up), fast(D_up), fast(G), fast(D), D_up)


def log_batch_stat_layers(generator: nn.Module, discriminator: nn.Module, ctx: DistContext) -> None:
    """Say (on rank 0) which layers see only this process's slice of each batch."""
    batch_stats = sorted(
        {type(m).__name__ for m in (*generator.modules(), *discriminator.modules())}
        & BATCH_STAT_LAYERS
    )
    if batch_stats and ctx.is_main:
        log.info(
            "%s see 1/%d of each batch per process: the run differs slightly from one "
            "process with the same batch (model.minibatch_std=false for an exact match)",
            ", ".join(batch_stats),
            ctx.world_size,
        )


@dataclass(frozen=True)
class Shard:
    """Which rows of each global batch, and of the global noise, this process keeps."""

    rank: int = 0
    world: int = 1
    presliced: bool = False  # the loader already yields only this process's rows

    @classmethod
    def of(cls, ctx: DistContext, loader: LoaderLike) -> Shard:
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


def resume_distributed(
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
            check_same_model(ckpt, full, ckpt_path)
            history = read_metrics(ckpt_path.parent / METRICS_NAME, int(ckpt["step"]))
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

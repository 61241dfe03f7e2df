"""Loaders of :func:`imusynth.train.loop.fit_gan`: loader factories, the endless batch stream.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.runtime import distributed_context

if TYPE_CHECKING:
    from imusynth.train.state import GANTrainingState

__all__ = [
    "Batch",
    "BatchStream",
    "LoaderLike",
    "class_weights",
    "dataset_loader",
    "epoch_loader",
    "to_device",
]

Batch = Tensor | Sequence[Tensor]
LoaderLike = Iterable[Batch] | Callable[[int], Iterable[Batch]]


def epoch_loader(
    *tensors: Tensor | np.ndarray,
    batch_size: int,
    seed: int,
    drop_last: bool = True,
    rank: int | None = None,
    world_size: int | None = None,
    weights: np.ndarray | None = None,
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
        weights=weights,
    )


def class_weights(y: np.ndarray, power: float) -> np.ndarray | None:
    """Per-sample weights ``n_class ** -power`` for :func:`epoch_loader`, or None for 0.

    ``power = 1`` draws every class equally often, ``0`` as the data (no weights).

    Examples
    --------
    >>> w = class_weights(np.array([0, 0, 0, 1]), 1.0)
    >>> w.tolist(), float(w[:3].sum()) == float(w[3:].sum())
    ([0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 1.0], True)
    >>> class_weights(np.array([0, 1]), 0.0) is None
    True
    """
    if power == 0:
        return None
    y = np.asarray(y)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.float64) ** -float(power)


def dataset_loader(
    data: Dataset,
    *,
    batch_size: int,
    seed: int,
    drop_last: bool = True,
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    weights: np.ndarray | None = None,
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
    weights : ndarray of shape (len(data),), optional
        Draw each epoch's ``len(data)`` samples with replacement, with these relative
        weights (:func:`class_weights`), instead of a shuffle of every sample once.

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
    if weights is not None and (
        len(weights) != n or not np.all(np.isfinite(weights)) or np.any(np.asarray(weights) < 0)
    ):
        raise ConfigError(f"need {n} finite weights >= 0, got {len(weights)}", field="weights")
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
        order: torch.utils.data.Sampler = (
            torch.utils.data.RandomSampler(data, generator=gen)
            if weights is None
            else torch.utils.data.WeightedRandomSampler(
                torch.as_tensor(weights, dtype=torch.float64), n, generator=gen
            )
        )
        sampler: Iterable[list[int]] = torch.utils.data.BatchSampler(order, batch_size, drop_last)
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


class BatchStream:
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


def to_device(
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

"""Runtime: devices, threads and seeds, passed in everywhere rather than guessed in the library.

The ground floor of the package (it imports only :mod:`imusynth.errors` and torch).

Data-parallel training (``torchrun --nproc_per_node=N -m imusynth train ...``) runs one
process per device. :func:`init_distributed` joins the process group that ``torchrun``
describes in its environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``); :func:`distributed_context` tells library code which process it is in.
Without ``torchrun`` (or with one process) nothing is initialised and every function here
is a no-op.

:func:`apply_thread_policy` is the one thread policy of the command line and the library's
long-running entry points (``train_run``, ``ConditionalGAN.fit``, ``ImageGAN.fit``,
``run_experiment``): on a machine with at most two cores torch runs one intra-op thread,
unless the user chose a number (``OMP_NUM_THREADS``, or ``torch.set_num_threads``).

:func:`seeded` scopes torch's global RNG to a seed while modules are built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from imusynth.errors import ConfigError

__all__ = [
    "SMALL_MACHINE_CORES",
    "DistContext",
    "apply_thread_policy",
    "distributed_context",
    "init_distributed",
    "resolve_device",
    "seeded",
    "shutdown_distributed",
]

_joined = False  # whether init_distributed set the process group up (and so may end it)
# torch's thread count as imusynth last left it (at import: torch's default); a different
# count later means the user chose one, and the policy leaves it alone.
_threads_expected = torch.get_num_threads()
SMALL_MACHINE_CORES = 2


def apply_thread_policy() -> int:
    """Run torch on one intra-op thread on a machine with at most two cores; return the count.

    On two cores a second intra-op thread pays only while nothing else runs: GAN steps of
    the default config ran 1.5x as fast with two threads on an idle 2-core machine, but
    0.7x as fast beside two other jobs (and up to 25x slower on busy machines), as the
    threads spin-wait for each other. One thread gives up at most that 1.5x and gives the
    same results whatever else runs. The policy changes nothing when the user has chosen a
    count: ``OMP_NUM_THREADS`` is set, or ``torch.set_num_threads`` was called after
    imusynth was imported (any count other than torch's default). Set
    ``OMP_NUM_THREADS=2`` to use both cores of a machine you have to yourself. The command
    line applies it at start; ``train_run``, ``ConditionalGAN.fit``, ``ImageGAN.fit`` and
    ``run_experiment`` apply it when called, so the Python API runs as fast as the command
    line.

    Returns
    -------
    int
        torch's intra-op thread count after the policy.

    Examples
    --------
    >>> apply_thread_policy() >= 1
    True
    """
    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    if (os.cpu_count() or 1) > SMALL_MACHINE_CORES:
        return torch.get_num_threads()
    global _threads_expected
    if torch.get_num_threads() != _threads_expected:
        return torch.get_num_threads()  # the user set it
    if _threads_expected > 1:
        torch.set_num_threads(1)
        _threads_expected = 1
    return torch.get_num_threads()


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1).

    Examples
    --------
    >>> ctx = DistContext()
    >>> ctx.rank, ctx.world_size, ctx.is_main, ctx.active
    (0, 1, True, False)
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, logs metrics and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process trains the same model."""
        return self.world_size > 1


def distributed_context() -> DistContext:
    """The initialised process group's rank and size, or rank 0 of 1 without one."""
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return DistContext(rank=rank, world_size=dist.get_world_size(), local_rank=local)
    return DistContext()


def init_distributed(device: str | torch.device = "auto") -> DistContext:
    """Join the process group ``torchrun`` set up in the environment, if there is one.

    With ``WORLD_SIZE`` unset or 1 this does nothing and returns rank 0 of 1. Otherwise it
    initialises ``torch.distributed`` once, with the NCCL backend when ``device`` resolves to
    CUDA (each process then uses ``cuda:LOCAL_RANK``) and Gloo on the CPU. A process group
    initialised by the caller is used as it is.

    Examples
    --------
    >>> init_distributed("cpu").world_size  # outside torchrun
    1
    """
    global _joined
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        return distributed_context()
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"process LOCAL_RANK={local} has no GPU ({torch.cuda.device_count()} visible)",
                field="device",
            )
        torch.cuda.set_device(local)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local))
    else:
        dist.init_process_group("gloo")
    _joined = True
    return distributed_context()


def shutdown_distributed() -> None:
    """Leave the process group :func:`init_distributed` set up (a no-op for any other)."""
    global _joined
    if _joined and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _joined = False


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    ``"auto"`` picks CUDA when available, else the CPU. Asking for CUDA on a machine without
    it is a user error, not a silent fallback. Inside an initialised process group,
    ``"auto"`` and ``"cuda"`` (without an index) mean this process's GPU,
    ``cuda:LOCAL_RANK``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r}", field="device") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was requested but is not available", field="device")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r} (use auto, cpu or cuda)", field="device")
    if dev.type == "cuda" and dev.index is None:
        ctx = distributed_context()
        if ctx.active:
            dev = torch.device("cuda", ctx.local_rank)
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Scope the global torch RNG to ``seed`` while modules are built, then restore it.

    PyTorch's default initialisers and spectral norm's power-iteration vectors draw from
    the global RNG and take no generator; forking it makes construction reproducible from
    the caller's seed without leaving any trace on the caller's global state. On a CUDA
    ``device`` that device's RNG is forked and seeded too (dropout on a GPU draws from it).

    Examples
    --------
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    devices = [device.index or 0] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield

"""Deprecated alias of :mod:`imusynth.runtime` (devices, threads, seeds); kept for one release."""

from imusynth.runtime import (
    SMALL_MACHINE_CORES,
    DistContext,
    apply_thread_policy,
    distributed_context,
    init_distributed,
    resolve_device,
    seeded,
    shutdown_distributed,
)

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

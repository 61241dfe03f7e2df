"""Checkpoints: one dict, written atomically, read back with ``weights_only=True``.

A GAN checkpoint holds everything a killed run needs to continue as if it had never stopped
(nanoGPT style): the generator, discriminator and EMA weights, both optimisers, the config,
the step and the loader position, and every random state (the loop's torch generator, the
global torch CPU/CUDA states, a numpy ``Generator`` and Python's ``random``). Only tensors
and plain Python values go in, so ``torch.load(..., weights_only=True)`` can read it and a
checkpoint handed in by a user cannot run code.

A data-parallel run (:func:`imusynth.train.loop.fit_gan` under ``torchrun``) writes the same
dict from rank 0: the models are the unwrapped modules (no DDP ``module.`` prefix), the
random states are the global ones every process shares, and the loader position counts
global batches, so a checkpoint does not depend on the number of processes that wrote it.

The models are always the uncompiled modules (``train.compile`` wraps them only for the
calls), and their weights and the optimiser states are float32 whatever
``train.precision``; an fp16 run adds its loss scalers' states under the optional entry
``"grad_scaler"`` (``{"d": ..., "g": ...}``). So a checkpoint resumes under any precision and
with compilation on or off.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from imusynth.errors import CheckpointError
from imusynth.train.config import ModelConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "capture_rng_states",
    "check_same_model",
    "load_checkpoint",
    "load_state",
    "remove_stale_temporaries",
    "restore_rng_states",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"  # in a run folder

CHECKPOINT_FORMAT = "imusynth-gan-checkpoint/1"
REQUIRED_KEYS = (
    "format",
    "step",
    "generator",
    "discriminator",
    "ema",
    "opt_g",
    "opt_d",
    "config",
    "rng",
)


def save_checkpoint(path: str | Path, checkpoint: Mapping[str, Any]) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (temporary file, fsync, rename).

    A crash while writing leaves the previous checkpoint intact; an exception (a full disk)
    also removes the temporary file. Only a kill leaves a ``.NAME.*.tmp`` behind, which
    :func:`imusynth.train.loop.fit_gan` removes when the run restarts.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
    >>> ck = {k: {} for k in REQUIRED_KEYS} | {"format": CHECKPOINT_FORMAT, "step": 3}
    >>> load_checkpoint(save_checkpoint(p, ck))["step"]
    3
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise CheckpointError(f"folder {str(path.parent)!r} does not exist", path=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(dict(checkpoint), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    CheckpointError
        The file is missing, truncated or not a checkpoint, holds anything but tensors and
        plain values, or lacks a required entry.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", path=path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch raises many types for truncated or foreign files
        # torch's own message advises weights_only=False, which would let the file run
        # code: a user is never told that, only what is wrong with the file.
        raise CheckpointError(
            "unreadable: the file is corrupt, truncated or not an imusynth checkpoint",
            path=path,
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"not an imusynth GAN checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})",
            path=path,
            field="format",
        )
    for key in REQUIRED_KEYS:
        if key not in ckpt:
            raise CheckpointError("checkpoint lacks a required entry", path=path, field=key)
    return ckpt


def load_state(
    target: nn.Module | torch.optim.Optimizer | torch.amp.GradScaler,
    state: Any,
    *,
    name: str,
    path: str | Path | None,
) -> None:
    """``target.load_state_dict(state)``, turning a mismatch into a :class:`CheckpointError`."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"does not fit the model built from the config ({first[:300]})", path=path, field=name
        ) from None


def capture_rng_states(
    loop_generator: torch.Generator | None = None,
    np_generator: np.random.Generator | None = None,
    loader_generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Every random state a run depends on, as tensors and plain values."""
    states: dict[str, Any] = {
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
    }
    if loop_generator is not None:
        states["loop"] = loop_generator.get_state()
    if np_generator is not None:
        states["numpy"] = np_generator.bit_generator.state
    if loader_generator is not None:
        states["loader"] = loader_generator.get_state()
    return states


def restore_rng_states(
    states: Mapping[str, Any],
    loop_generator: torch.Generator | None = None,
    np_generator: np.random.Generator | None = None,
    *,
    path: str | Path | None = None,
) -> None:
    """Put back the states :func:`capture_rng_states` took.

    The global torch and Python states are restored too, so code outside the loop that
    draws from them (a DataLoader without its own generator, dropout) also continues.
    """
    try:
        torch.set_rng_state(states["torch_cpu"])
        cuda = states.get("torch_cuda") or []
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        random.setstate(_as_python_random_state(states["python"]))
        if loop_generator is not None:
            loop_generator.set_state(states["loop"])
        if np_generator is not None:
            np_generator.bit_generator.state = states["numpy"]
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"bad random state ({exc})", path=path, field="rng") from None


def _as_python_random_state(state: Any) -> tuple:
    # Serialisation may hand tuples back as lists; random.setstate wants tuples.
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def check_same_model(ckpt: dict[str, Any], full: dict[str, Any], path: Path) -> None:
    """Refuse to resume a checkpoint made with another ``[model]`` config than ``full``'s."""
    saved = (ckpt.get("config") or {}).get("model")
    now = full.get("model")
    if saved is not None:
        # Keys added since the checkpoint was written take their defaults, which keep what
        # the older runs did (e.g. joint_rate_hz beside an explicit joint_stride).
        saved = {**asdict(ModelConfig()), **saved}
    if saved is not None and now is not None and saved != now:
        diff = sorted(k for k in now if saved.get(k) != now.get(k))
        raise CheckpointError(
            f"the checkpoint was made with a different model config ({', '.join(diff)})",
            path=path,
            field=f"model.{diff[0]}" if diff else "model",
        )


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete checkpoint temporaries a killed writer left (the caller holds the lock)."""
    for tmp in run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
        log.info("removing %s, left by an interrupted checkpoint write", tmp)
        tmp.unlink(missing_ok=True)

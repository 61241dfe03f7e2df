"""The training state of :func:`imusynth.train.loop.fit_gan`: what a checkpoint saves.

:class:`GANTrainingState` holds the models, the optimisers, the random generators and the
position of the loop (step, epoch, batch in the epoch); :meth:`GANTrainingState.checkpoint`
turns it into the one checkpoint dict (:mod:`imusynth.train.checkpoint`) and
:meth:`GANTrainingState.restore` loads one back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from imusynth.train.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_states,
    load_state,
    restore_rng_states,
)
from imusynth.train.config import TrainConfig

__all__ = ["GANTrainingState", "load_optimizer"]

log = logging.getLogger(__name__)


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
        load_optimizer(self.opt_g, ckpt["opt_g"], name="opt_g", path=path)
        load_optimizer(self.opt_d, ckpt["opt_d"], name="opt_d", path=path)
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


def load_optimizer(
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

"""One GAN training step in its two visible parts: "update D", then "update G".

:func:`imusynth.train.loop.fit_gan` calls :func:`update_d` ``n_critic`` times, each on a
fresh batch, then :func:`update_g` once on the labels of the last batch. Every random draw
(latents, instance noise, shifts, penalty interpolation weights) comes from ``state.rng``
for the whole global batch, in a fixed order; each process keeps its rows
(:class:`~imusynth.train.parallel.Shard`). Nothing here waits for the device: the terms of
the metrics come back as tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from imusynth.train.loaders import Batch, to_device
from imusynth.train.losses import (
    ADVERSARIAL_LOSSES,
    classifier_loss,
    gradient_penalty,
    mode_seeking_loss,
    r1_penalty,
)
from imusynth.train.parallel import Nets, Shard
from imusynth.train.precision import Amp, float_logits, full
from imusynth.train.state import GANTrainingState

__all__ = [
    "DStep",
    "GStep",
    "StepSetup",
    "d_input",
    "ema_decay",
    "random_shift",
    "update_d",
    "update_ema",
    "update_g",
]


@dataclass(frozen=True)
class StepSetup:
    """What every step of a run uses: the modules to call, precision, sharding, the losses."""

    nets: Nets
    amp: Amp
    shard: Shard
    d_loss_fn: Callable[[Tensor, Tensor], Tensor]
    g_loss_fn: Callable[[Tensor], Tensor]
    conditional: bool  # the generator takes class labels
    use_side: bool  # ... and the arm side, when batches carry it
    penalty_fn: Callable[[], Tensor] | None  # the generator's penalty of its last forward

    @classmethod
    def of(cls, state: GANTrainingState, nets: Nets, amp: Amp, shard: Shard) -> StepSetup:
        G = state.generator
        d_loss_fn, g_loss_fn = ADVERSARIAL_LOSSES[state.config.loss]
        return cls(
            nets,
            amp,
            shard,
            d_loss_fn,
            g_loss_fn,
            conditional=getattr(G, "num_classes", 0) > 0,
            use_side=getattr(G, "n_sides", 0) > 0,
            penalty_fn=getattr(G, "penalty", None),
        )


@dataclass
class DStep:
    """What "update D" leaves: the global batch size and labels that "update G" reuses, and
    the terms of the metrics."""

    n: int  # the global batch size
    cond: tuple[Tensor | None, ...]  # labels (and sides) of this process's rows
    real: Tensor  # this process's real windows (the mode-seeking cap compares with them)
    loss: Tensor
    adv_real: Tensor
    adv_fake: Tensor
    penalty: Tensor
    ac: Tensor


@dataclass
class GStep:
    """The terms of the metrics that "update G" leaves."""

    loss: Tensor
    ac: Tensor
    penalty: Tensor


def update_d(state: GANTrainingState, setup: StepSetup, batch: Batch, sigma: float) -> DStep:
    """One discriminator update on a global ``batch``, with instance noise of std ``sigma``."""
    cfg, dev, G = state.config, state.device, state.generator
    nets, amp, shard = setup.nets, setup.amp, setup.shard
    # Every draw is for the global batch of n; each process keeps its rows.
    batch, n = shard.batch(batch)
    x, cond = to_device(batch, dev, setup.conditional, setup.use_side)
    z = _randn((n, G.latent_dim), state.rng, dev, shard)
    with torch.no_grad(), amp.autocast():
        # back to full precision whatever autocast computed in (a no-op in fp32)
        fake = full(nets.G_frozen(z, *cond))
    real_in = d_input(x, sigma, cfg.augment_shift, state.rng, shard, n)
    if cfg.r1_weight > 0:
        # R1 differentiates this pass twice: float32 and uncompiled D
        real_in = real_in.detach().requires_grad_(True)
        adv_real, cls_real = float_logits(nets.D_penalty(real_in, *cond))
    else:
        with amp.autocast():
            adv_real, cls_real = float_logits(nets.D(real_in, *cond))
    fake_in = d_input(fake, sigma, cfg.augment_shift, state.rng, shard, n)
    with amp.autocast():
        adv_fake, _ = float_logits(nets.D(fake_in, *cond))
    loss_d = setup.d_loss_fn(adv_real, adv_fake)
    d_penalty = torch.zeros((), device=dev)
    if cfg.loss == "wgan-gp":  # float32, uncompiled D (differentiated twice)
        if shard.world > 1:
            gp = sharded_gradient_penalty(nets.D_penalty, x, fake, cond, state.rng, shard, n)
        else:
            gp = gradient_penalty(nets.D_penalty, x, fake, *cond, generator=state.rng)
        d_penalty = cfg.gp_weight * gp
    if cfg.r1_weight > 0:
        d_penalty = d_penalty + 0.5 * cfg.r1_weight * r1_penalty(adv_real, real_in)
    # AC-GAN: the discriminator's classifier learns from real windows only, so it is never
    # rewarded for telling classes of unconvincing fakes apart.
    ac_d = classifier_loss(cls_real, cond[0]) if cls_real is not None else d_penalty * 0
    state.opt_d.zero_grad(set_to_none=True)
    amp.backward_step(loss_d + d_penalty + cfg.ac_weight * ac_d, state.opt_d, state.scaler_d)
    return DStep(n, cond, x, loss_d, adv_real, adv_fake, d_penalty, ac_d)


def update_g(state: GANTrainingState, setup: StepSetup, d: DStep, sigma: float) -> GStep:
    """One generator update on the labels of "update D"'s last batch, then the EMA update."""
    cfg, dev = state.config, state.device
    G, D = state.generator, state.discriminator
    nets, amp, shard = setup.nets, setup.amp, setup.shard
    n, cond = d.n, d.cond
    z = _randn((n, G.latent_dim), state.rng, dev, shard)
    D.requires_grad_(False)  # no discriminator weight gradients in this step
    with amp.autocast():
        fake = full(nets.G(z, *cond))
    fake_in = d_input(fake, sigma, cfg.augment_shift, state.rng, shard, n)
    with amp.autocast():
        adv_g, cls_g = float_logits(nets.D_frozen(fake_in, *cond))
    loss_g = setup.g_loss_fn(adv_g)
    ac_g = classifier_loss(cls_g, cond[0]) if cls_g is not None else loss_g.detach() * 0
    penalty_fn = setup.penalty_fn
    g_penalty = full(penalty_fn()) if penalty_fn is not None else loss_g.detach() * 0
    if cfg.mode_seeking > 0:
        ms = _mode_seeking(fake, z, cond, G, d.real, cfg.mode_seeking_cap)
        loss_g = loss_g + cfg.mode_seeking * ms
    state.opt_g.zero_grad(set_to_none=True)
    amp.backward_step(
        loss_g + cfg.ac_weight * ac_g + cfg.residual_weight * g_penalty,
        state.opt_g,
        state.scaler_g,
    )
    D.requires_grad_(True)
    update_ema(state.ema, G, ema_decay(cfg.ema_decay, state.step))
    return GStep(loss_g, ac_g, g_penalty)


_ONE_PROCESS = Shard()  # the whole batch


def _mode_seeking(
    fake: Tensor,
    z: Tensor,
    cond: tuple[Tensor | None, ...],
    G: nn.Module,
    real: Tensor,
    cap: float,
) -> Tensor:
    """:func:`mode_seeking_loss` over pairs with the same class (and side); only the global
    latent counts (the first ``trunk.latent_dim`` entries of a 1D generator's ``z``; the
    per-sample noise maps and sensor noise after them say nothing about modes). ``real``
    has the conditions of ``fake`` row for row (both are this process's rows)."""
    same = torch.ones(len(z), len(z), dtype=torch.bool, device=z.device)
    for c in cond:  # class labels, then sides (None: unconditional)
        if c is not None:
            same &= c[:, None] == c[None, :]
    k = getattr(getattr(G, "trunk", None), "latent_dim", z.shape[1])
    return mode_seeking_loss(fake, z[:, :k], same, real=real, cap=cap)


def _randn(shape: tuple[int, ...], rng: torch.Generator, dev, shard: Shard) -> Tensor:
    """Normal noise for the global batch ``shape[0]``; this process's rows of it."""
    return shard.take(torch.randn(shape, generator=rng, device=dev), shape[0])


def d_input(
    x: Tensor,
    sigma: float,
    shift: float,
    rng: torch.Generator,
    shard: Shard = _ONE_PROCESS,
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
    return _random_shift(x, fraction, rng, _ONE_PROCESS, x.shape[0])


def _random_shift(x: Tensor, fraction: float, rng: torch.Generator, shard: Shard, n: int):
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


def sharded_gradient_penalty(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    cond: tuple[Tensor | None, ...],
    rng: torch.Generator,
    shard: Shard,
    n: int,
) -> Tensor:
    """:func:`~imusynth.train.losses.gradient_penalty` on this process's rows, with the
    interpolation weights drawn for the global batch (so the random state stays global)."""
    shape = (n,) + (1,) * (real.ndim - 1)  # (B, 1, 1[, 1]) broadcasts over x
    eps = shard.take(torch.rand(shape, generator=rng, device=real.device, dtype=real.dtype), n)
    return gradient_penalty(D, real, fake, *cond, eps=eps)


def ema_decay(decay: float, step: int) -> float:
    # Warm-up, so the average does not drag the random initial weights through a short run.
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)

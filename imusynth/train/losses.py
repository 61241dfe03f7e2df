"""GAN losses as pure functions of discriminator outputs.

Each adversarial loss is a pair: ``d_loss(real_logits, fake_logits)`` that the discriminator
minimises and ``g_loss(fake_logits)`` that the generator minimises. Penalties take the
discriminator and its inputs because they differentiate through it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ADVERSARIAL_LOSSES",
    "bce_d_loss",
    "bce_g_loss",
    "classifier_loss",
    "gradient_penalty",
    "hinge_d_loss",
    "hinge_g_loss",
    "r1_penalty",
    "wgan_d_loss",
    "wgan_g_loss",
]


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Binary cross-entropy on logits: ``-log D(x) - log(1 - D(G(z)))`` (Goodfellow 2014).

    ``softplus(-t) = -log(sigmoid(t))``, so no sigmoid is taken and large logits do not
    saturate to log(0).

    Examples
    --------
    >>> round(float(bce_d_loss(torch.zeros(4), torch.zeros(4))), 4)  # 2 log 2
    1.3863
    """
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def bce_g_loss(fake: Tensor) -> Tensor:
    """Non-saturating generator loss ``-log D(G(z))`` (Goodfellow 2014, as in DCGAN).

    Examples
    --------
    >>> round(float(bce_g_loss(torch.zeros(4))), 4)  # log 2
    0.6931
    """
    return F.softplus(-fake).mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge loss ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]`` (Lim & Ye 2017; SNGAN).

    Examples
    --------
    >>> float(hinge_d_loss(torch.tensor([2.0, 0.0]), torch.tensor([-2.0, 0.0])))
    1.0
    """
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g_loss(fake: Tensor) -> Tensor:
    """Generator side of the hinge loss: ``-E[D(G(z))]``."""
    return -fake.mean()


def wgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Wasserstein critic loss ``E[D(G(z))] - E[D(x)]`` (Arjovsky et al. 2017).

    Examples
    --------
    >>> float(wgan_d_loss(torch.tensor([3.0, 1.0]), torch.tensor([0.0, 1.0])))
    -1.5
    """
    return fake.mean() - real.mean()


def wgan_g_loss(fake: Tensor) -> Tensor:
    """Generator side of the Wasserstein loss: ``-E[D(G(z))]``."""
    return -fake.mean()


ADVERSARIAL_LOSSES: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]]
ADVERSARIAL_LOSSES = {
    "bce": (bce_d_loss, bce_g_loss),
    "hinge": (hinge_d_loss, hinge_g_loss),
    "wgan-gp": (wgan_d_loss, wgan_g_loss),
}


def mode_seeking_loss(
    fake: Tensor,
    z: Tensor,
    same: Tensor,
    eps: float = 1e-5,
    *,
    real: Tensor | None = None,
    cap: float = 0.0,
) -> Tensor:
    """Mode-seeking term of MSGAN (Mao et al. 2019), over pairs within a batch.

    For every pair of samples that share their condition (``same``, ``(B, B)`` bool), the
    ratio of the mean absolute difference of the outputs to that of their latents; the loss
    is the inverse of the mean ratio, so minimising it spreads the outputs of one class over
    its latents (against mode collapse). Zero when no two samples share a condition.

    With ``real`` (real windows with the same conditions, row for row) and ``cap`` > 0, the
    mean ratio counts only up to ``cap`` times the real windows' own: the mean absolute
    difference of the real same-condition pairs over the same latent distances. Beyond it
    the term has no gradient, so it stops spreading a class once synthetic windows of it
    differ ``cap`` times as much as real ones do.

    >>> z = torch.randn(4, 8)
    >>> same = torch.ones(4, 4, dtype=torch.bool)
    >>> float(mode_seeking_loss(2 * z, z, same)) < float(mode_seeking_loss(0.5 * z, z, same))
    True
    >>> capped = mode_seeking_loss(2 * z, z, same, real=z, cap=1.0)  # at most as spread as real
    >>> bool(torch.isclose(capped, mode_seeking_loss(z, z, same)))
    True
    """
    f = fake.flatten(1).float()  # (B, C*T)
    z = z.flatten(1).float()  # (B, D)
    pairs = same & ~torch.eye(len(f), dtype=torch.bool, device=f.device)  # (B, B)
    d_lat = torch.cdist(z, z, p=1)[pairs] / z.shape[1]  # mean |z_i - z_j| of the pairs
    if d_lat.numel() == 0:
        return fake.sum() * 0.0
    d_out = torch.cdist(f, f, p=1)[pairs] / f.shape[1]  # mean |G(z_i) - G(z_j)|
    ratio = (d_out / (d_lat + eps)).mean()
    if real is not None and cap > 0:
        r = real.flatten(1).float()
        d_real = torch.cdist(r, r, p=1)[pairs] / r.shape[1]
        ratio = ratio.clamp(max=float(cap * (d_real / (d_lat + eps)).mean()))
    return 1.0 / (ratio + eps)


def classifier_loss(class_logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of an auxiliary classifier head (AC-GAN, Odena et al. 2017)."""
    return F.cross_entropy(class_logits, y)


def gradient_penalty(
    discriminator: Callable[..., Tensor | tuple[Tensor, Tensor]],
    real: Tensor,
    fake: Tensor,
    *cond: Tensor | None,
    generator: torch.Generator | None = None,
    eps: Tensor | None = None,
) -> Tensor:
    """WGAN-GP penalty ``E[(||grad D(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017).

    ``x_hat`` lies on a random segment between paired real and fake samples; ``cond`` is
    passed to the discriminator after ``x_hat`` (labels, side). ``generator`` draws the
    interpolation weights, so the penalty is reproducible; or pass them as ``eps``
    (``(B, 1, ...)``, e.g. this process's rows of weights drawn for a global batch).

    Examples
    --------
    >>> w = torch.tensor([3.0, 4.0])  # D(x) = w . x has gradient norm 5 everywhere
    >>> d = lambda x, y=None: x @ w
    >>> float(gradient_penalty(d, torch.zeros(8, 2), torch.ones(8, 2)))
    16.0
    """
    if eps is None:
        shape = (real.shape[0],) + (1,) * (real.ndim - 1)  # (B, 1, 1[, 1]) broadcasts over x
        eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = _adv(discriminator(x_hat, *cond))
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((norm - 1.0) ** 2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 penalty ``E[||grad D(x)||^2]`` on real data (Mescheder et al. 2018).

    ``real`` must have ``requires_grad=True`` and ``real_logits`` must come from it. The
    caller scales by ``gamma / 2``.

    Examples
    --------
    >>> x = torch.ones(4, 3, requires_grad=True)
    >>> float(r1_penalty((2.0 * x).sum(1), x))  # gradient (2, 2, 2): squared norm 12
    12.0
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def _adv(out: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """Adversarial logits of a discriminator that may also return class logits."""
    return out[0] if isinstance(out, tuple) else out

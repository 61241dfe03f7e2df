"""Building blocks shared by the 1D generators and discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imusynth.runtime import seeded  # re-exported: the models build under it

__all__ = [
    "CondGroupNorm1d",
    "ConditionEmbedding",
    "DownBlock1d",
    "GeneratorTrunk1d",
    "MinibatchStd",
    "ProjectionCritic1d",
    "TrunkGenerator1d",
    "UpBlock1d",
    "maybe_spectral_norm",
    "seeded",
]


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation of ``module.weight`` (Miyato et al. 2018) when ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class ConditionEmbedding(nn.Module):
    """Class (and optionally arm-side) embedding; an empty vector when unconditional.

    ``num_classes == 0`` means unconditional: ``forward`` then ignores ``y`` and returns a
    ``(B, 0)`` tensor, so the same network code serves both cases.
    """

    def __init__(self, num_classes: int, embed_dim: int, n_sides: int = 0) -> None:
        super().__init__()
        self.num_classes, self.n_sides = num_classes, n_sides
        self.classes = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        self.sides = nn.Embedding(n_sides, embed_dim) if n_sides > 0 else None
        self.dim = embed_dim if (num_classes > 0 or n_sides > 0) else 0

    def forward(self, batch: int, y: Tensor | None, side: Tensor | None, device) -> Tensor:
        out = torch.zeros(batch, self.dim, device=device)  # (B, E)
        if self.classes is not None:
            if y is None:
                raise ValueError("this model is conditional: pass class labels y")
            out = out + self.classes(y)
        if self.sides is not None and side is not None:
            out = out + self.sides(side)
        return out


class CondGroupNorm1d(nn.Module):
    """Group norm whose gain and bias are linear in a conditioning vector.

    Conditional normalisation as in BigGAN (Brock et al. 2019), with the class embedding and
    the noise vector as the condition; group norm rather than batch norm, so a sample does
    not depend on the rest of its batch and sampling in small batches is exact.
    """

    def __init__(self, channels: int, cond_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels)
        self.bias = nn.Linear(cond_dim, channels)

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        gain = 1.0 + self.gain(cond).unsqueeze(-1)  # (B, C, 1)
        bias = self.bias(cond).unsqueeze(-1)  # (B, C, 1)
        return self.norm(h) * gain + bias


class UpBlock1d(nn.Module):
    """x2 linear upsampling, then two convolutions with conditional norm, residual.

    Upsample-then-convolve avoids the checkerboard artefacts of strided transposed
    convolutions (Odena et al. 2016), which in a time series are spurious high frequencies.
    With ``noise_channels``, per-sample noise maps are added between the two convolutions
    through a learned 1x1 convolution (StyleGAN's noise inputs, Karras et al. 2019): sensor
    noise and tremor are broadband, and an upsampling network, being smooth, struggles to
    invent them from the global latent alone. The weights start small but not at zero: at
    zero the expected gradient on a noise amplitude vanishes (fresh noise is uncorrelated
    with the discriminator's gradient), so the amplitude could only grow by chance.
    """

    def __init__(
        self, c_in: int, c_out: int, cond_dim: int, kernel_size: int, noise_channels: int = 0
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.norm1 = CondGroupNorm1d(c_in, cond_dim)
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=pad)
        self.norm2 = CondGroupNorm1d(c_out, cond_dim)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad)
        self.skip = nn.Conv1d(c_in, c_out, 1)
        self.noise = None
        if noise_channels:
            self.noise = nn.Conv1d(noise_channels, c_out, 1, bias=False)
            nn.init.normal_(self.noise.weight, 0.0, 0.1)

    def forward(self, h: Tensor, cond: Tensor, noise: Tensor | None = None) -> Tensor:
        h = F.interpolate(h, scale_factor=2.0, mode="linear", align_corners=False)  # (B, C, 2T)
        out = self.conv1(F.leaky_relu(self.norm1(h, cond), 0.2))
        if self.noise is not None and noise is not None:
            out = out + self.noise(noise)  # (B, C_out, 2T)
        out = self.conv2(F.leaky_relu(self.norm2(out, cond), 0.2))
        return out + self.skip(h)


class GeneratorTrunk1d(nn.Module):
    """Noise + condition -> a feature map ``(B, out_channels, length)``.

    The first feature map has ``ceil(length / 2**n_blocks)`` steps; each block doubles it and
    the result is cropped to ``length``. The conditional norms see ``[embedding, z]``, so the
    noise modulates every scale (BigGAN's hierarchical latent) and not only the first.

    ``z`` has ``z_dim = latent_dim + noise_channels * full_length`` entries: the first
    ``latent_dim`` are the global latent, the rest are reshaped to ``noise_channels`` noise
    maps for the last block. Keeping the noise maps in ``z`` keeps the generator a pure
    function of its input, so seeded sampling and exact resume need nothing more.

    Its keyword options (and their defaults) are those of both 1D generators, which pass
    them through (see :class:`TrunkGenerator1d`).
    """

    def __init__(
        self,
        num_classes: int,
        length: int,
        *,
        latent_dim: int = 64,
        embed_dim: int = 32,
        width: int = 128,
        n_blocks: int = 3,
        kernel_size: int = 5,
        n_sides: int = 0,
        noise_channels: int = 0,
    ) -> None:
        super().__init__()
        self.length, self.kernel_size = length, kernel_size
        self.latent_dim, self.noise_channels = latent_dim, noise_channels
        self.embed = ConditionEmbedding(num_classes, embed_dim, n_sides)
        cond_dim = self.embed.dim + latent_dim
        self.t0 = -(-length // 2**n_blocks)
        widths = [max(width // 2**i, min(width, 32)) for i in range(n_blocks + 1)]
        self.width = width
        self.fc = nn.Linear(cond_dim, width * self.t0)
        self.full_length = self.t0 * 2**n_blocks
        self.blocks = nn.ModuleList(
            UpBlock1d(
                widths[i],
                widths[i + 1],
                cond_dim,
                kernel_size,
                noise_channels if i == n_blocks - 1 else 0,
            )
            for i in range(n_blocks)
        )
        self.out_norm = CondGroupNorm1d(widths[-1], cond_dim)
        self.out_channels = widths[-1]
        self.z_dim = latent_dim + noise_channels * self.full_length

    def forward(self, z: Tensor, y: Tensor | None, side: Tensor | None = None) -> Tensor:
        b = z.shape[0]
        noise = None
        if self.noise_channels:
            noise = z[:, self.latent_dim :].reshape(b, self.noise_channels, self.full_length)
            z = z[:, : self.latent_dim]  # (B, Z): the global latent
        cond = torch.cat([self.embed(b, y, side, z.device), z], dim=1)  # (B, E + Z)
        h = self.fc(cond).view(b, self.width, self.t0)  # (B, W, T0)
        for i, block in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            h = block(h, cond, noise if last else None)  # (B, W_i, T0 * 2**i)
        h = F.leaky_relu(self.out_norm(h, cond), 0.2)
        return h[..., : self.length]  # (B, F, T)


class TrunkGenerator1d(nn.Module):
    """Base of the 1D generators: a :class:`GeneratorTrunk1d` and what the loop reads of it.

    :meth:`_add_trunk` sets ``n_channels``, ``length``, ``num_classes``, ``n_sides`` and
    ``latent_dim`` (the size of ``z``: the global latent plus the noise maps).
    """

    def _add_trunk(self, n_channels: int, length: int, num_classes: int, **trunk: int) -> int:
        """Build ``self.trunk`` from the trunk options; return its output channels."""
        self.n_channels, self.length, self.num_classes = n_channels, length, num_classes
        self.trunk = GeneratorTrunk1d(num_classes, length, **trunk)
        self.n_sides = self.trunk.embed.n_sides
        self.latent_dim = self.trunk.z_dim  # global latent + noise maps
        return self.trunk.out_channels


class DownBlock1d(nn.Module):
    """Strided convolution halving the length, LeakyReLU(0.2) as in DCGAN's discriminator."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, sn: bool) -> None:
        super().__init__()
        conv = nn.Conv1d(c_in, c_out, kernel_size, stride=2, padding=kernel_size // 2)
        self.conv = maybe_spectral_norm(conv, sn)

    def forward(self, h: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(h), 0.2)  # (B, C_out, ceil(T / 2))


class ProjectionCritic1d(nn.Module):
    """Base of the 1D critics: the projection logit of pooled features (Miyato & Koyama 2018).

    :meth:`_add_projection` sets ``adv`` (the unconditional logit ``psi``) and ``embed`` (the
    class and arm-side embeddings), all spectrally normalised when asked; :meth:`_project`
    turns the pooled features ``phi`` into ``psi(phi) + <embed(y, side), phi>``.
    """

    def _add_projection(self, features: int, num_classes: int, n_sides: int, sn: bool) -> None:
        """Build ``self.adv`` and ``self.embed`` for ``features`` pooled features."""
        self.adv = maybe_spectral_norm(nn.Linear(features, 1), sn)
        self.embed = ConditionEmbedding(num_classes, features, n_sides)
        if self.embed.classes is not None:
            self.embed.classes = maybe_spectral_norm(self.embed.classes, sn)
        if self.embed.sides is not None:
            self.embed.sides = maybe_spectral_norm(self.embed.sides, sn)

    def _project(self, phi: Tensor, y: Tensor | None, side: Tensor | None) -> Tensor:
        """Adversarial logits ``(B,)`` of pooled features ``phi (B, F)``."""
        logits = self.adv(phi).squeeze(1)  # (B,)
        if self.embed.dim:
            logits = logits + (self.embed(phi.shape[0], y, side, phi.device) * phi).sum(dim=1)
        return logits


class MinibatchStd(nn.Module):
    """Append the batch standard deviation, averaged over features, as one channel.

    ProGAN's trick (Karras et al. 2018): the discriminator can see a batch with too little
    variety, which penalises mode collapse of the generator.
    """

    def forward(self, h: Tensor) -> Tensor:
        std = h.float().std(dim=0, unbiased=False).mean()  # scalar
        extra = std.to(h.dtype).expand(h.shape[0], 1, *h.shape[2:])  # (B, 1, T)
        return torch.cat([h, extra], dim=1)  # (B, C + 1, T)

"""Conditional 1D-convolutional GAN for windows of inertial-sensor data ``(B, C, T)``.

Both networks follow the GAN model protocol of :func:`imusynth.train.loop.fit_gan`:
``generator(z, y[, side]) -> x`` and ``discriminator(x, y[, side]) -> logits`` or
``(logits, class_logits)``; ``y`` is ``None`` for an unconditional model
(``num_classes == 0``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from imusynth.models.blocks import (
    DownBlock1d,
    MinibatchStd,
    ProjectionCritic1d,
    TrunkGenerator1d,
    maybe_spectral_norm,
)

__all__ = ["Conv1dGenerator", "ProjectionDiscriminator1d"]


class Conv1dGenerator(TrunkGenerator1d):
    """Noise and exercise class (and arm side) -> a window ``(B, C, T)``, normalised units.

    Parameters
    ----------
    n_channels, length : int
        Output channels ``C`` and samples ``T``.
    num_classes : int
        Number of classes; 0 for an unconditional generator.
    **trunk : int
        Options of the shared :class:`~imusynth.models.blocks.GeneratorTrunk1d`:
        ``latent_dim`` (64), ``embed_dim`` (32), ``width`` (128), ``n_blocks`` (3),
        ``kernel_size`` (5): noise size, class-embedding size, channels of the first
        block, number of x2 upsampling blocks and convolution width; ``n_sides`` (0): 2 to
        also condition on the arm side (0 = left, 1 = right), 0 not to;
        ``noise_channels`` (0): per-sample noise maps fed to the last block.

    Examples
    --------
    >>> import torch
    >>> g = Conv1dGenerator(n_channels=6, length=250, num_classes=7)
    >>> g(torch.randn(4, g.latent_dim), torch.tensor([0, 1, 2, 6])).shape
    torch.Size([4, 6, 250])
    """

    def __init__(self, n_channels: int, length: int, num_classes: int, **trunk: int) -> None:
        super().__init__()
        feats = self._add_trunk(n_channels, length, num_classes, **trunk)
        kernel_size = self.trunk.kernel_size
        self.head = nn.Conv1d(feats, n_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, z: Tensor, y: Tensor | None = None, side: Tensor | None = None) -> Tensor:
        return self.head(self.trunk(z, y, side))  # (B, C, T)


class ProjectionDiscriminator1d(ProjectionCritic1d):
    """Strided 1D convolutions with projection conditioning (Miyato & Koyama 2018).

    The logit is ``psi(phi(x)) + <embed(y), phi(x)>`` where ``phi`` is the pooled feature
    vector: the class enters as an inner product with the features rather than as an input
    channel, which the paper shows conditions far more sharply. With ``ac_head`` it also
    returns class logits from ``phi`` (AC-GAN, Odena et al. 2017).

    Parameters
    ----------
    n_channels : int
        Input channels.
    num_classes : int
        0 for an unconditional discriminator.
    width, n_blocks, kernel_size : int
        Channels of the first block (doubled per block, at most 8x), number of stride-2
        blocks, convolution width.
    spectral_norm : bool
        Spectral normalisation of every weight (Miyato et al. 2018).
    ac_head : bool
        Also return ``(B, num_classes)`` class logits.
    minibatch_std : bool
        Append the batch-stddev feature before the last block.
    n_sides : int
        2 to project the arm side as well, 0 not to.
    diff_input : bool
        Also feed the first difference of every channel. Differencing multiplies the power
        at frequency f by ``4 sin^2(pi f / fs)``, so sensor noise and tremor, which are
        weak next to the movement itself, weigh as much as the movement: the discriminator
        then notices a generator that is too smooth (or too rough).

    Examples
    --------
    >>> import torch
    >>> d = ProjectionDiscriminator1d(n_channels=6, num_classes=7, ac_head=True)
    >>> adv, cls = d(torch.randn(4, 6, 250), torch.tensor([0, 1, 2, 6]))
    >>> adv.shape, cls.shape
    (torch.Size([4]), torch.Size([4, 7]))
    """

    def __init__(
        self,
        n_channels: int,
        num_classes: int,
        *,
        width: int = 32,
        n_blocks: int = 4,
        kernel_size: int = 5,
        spectral_norm: bool = True,
        ac_head: bool = False,
        minibatch_std: bool = True,
        n_sides: int = 0,
        diff_input: bool = False,
    ) -> None:
        super().__init__()
        if ac_head and num_classes < 2:
            raise ValueError("an auxiliary classifier head needs at least 2 classes")
        self.num_classes, self.n_sides, self.diff_input = num_classes, n_sides, diff_input
        c_in = 2 * n_channels if diff_input else n_channels
        widths = [c_in] + [width * 2 ** min(i, 3) for i in range(n_blocks)]
        blocks: list[nn.Module] = []
        for i in range(n_blocks):
            c_in = widths[i]
            if minibatch_std and i == n_blocks - 1:
                blocks.append(MinibatchStd())
                c_in += 1
            blocks.append(DownBlock1d(c_in, widths[i + 1], kernel_size, spectral_norm))
        self.blocks = nn.Sequential(*blocks)
        features = widths[-1]
        self._add_projection(features, num_classes, n_sides, spectral_norm)
        self.classifier = (
            maybe_spectral_norm(nn.Linear(features, num_classes), spectral_norm)
            if ac_head
            else None
        )

    def forward(
        self, x: Tensor, y: Tensor | None = None, side: Tensor | None = None
    ) -> Tensor | tuple[Tensor, Tensor]:
        if self.diff_input:
            dx = torch.diff(x, dim=-1, prepend=x[..., :1])  # (B, C, T), 0 at t = 0
            x = torch.cat([x, dx], dim=1)  # (B, 2C, T)
        h = self.blocks(x)  # (B, F, T')
        phi = h.mean(dim=-1)  # (B, F)
        logits = self._project(phi, y, side)  # (B,)
        if self.classifier is not None:
            return logits, self.classifier(phi)  # (B,), (B, K)
        return logits

"""DCGAN for 64x64 single-channel ROIs (Radford et al. 2016), as Frid-Adar et al. 2018 used.

Generator: 100-d noise -> linear "project and reshape" to 4x4x(8 width) -> four
fractionally-strided 5x5 convolutions (stride 2) to 64x64 -> tanh, with BatchNorm and ReLU
between them. Discriminator: four strided 5x5 convolutions with LeakyReLU(0.2) (BatchNorm on
all but the first) -> linear. With ``width=128`` the generator's first map is 4x4x1024 as in
the paper; tests and CPU runs pass a narrow ``width``.

Two variants, both trained by :func:`imusynth.train.loop.fit_gan` (bce loss, the DCGAN
setting; BatchNorm in the discriminator does not suit a gradient penalty, so pass
``batchnorm=False`` for ``wgan-gp``):

* unconditional (``num_classes=0``): one GAN per class, the paper's best arm;
* AC-GAN (Odena et al. 2017, ``num_classes=K``): the class embedding is concatenated to the
  noise at the generator's input, and the discriminator has an auxiliary class head, so it
  returns ``(adv_logits, class_logits)``.

Both networks follow the model protocol of :mod:`imusynth.train.loop`.

Small data. On the 53 cyst phantoms (bce, batch 32, 2,000 steps, widths 64) the plain
DCGAN collapses to a single image; trained on the classically augmented ROIs, as the paper
trained its GANs, its samples are about as varied as the real ones (per-pixel standard
deviation across samples 0.18-0.21 against 0.24), and ``minibatch_std=True`` in the
discriminator helps further (0.21; on the 53 raw ROIs 0.10 instead of a collapse).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from imusynth.errors import ConfigError
from imusynth.models.blocks import MinibatchStd, seeded

__all__ = ["DCGANDiscriminator2d", "DCGANGenerator2d", "build_dcgan2d", "dcgan_init_"]

IMAGE_SIZE = 64
_KERNEL = 5


class DCGANGenerator2d(nn.Module):
    """Noise (and class) -> a ``(B, 1, 64, 64)`` image in [-1, 1].

    Parameters
    ----------
    num_classes : int
        0 for an unconditional generator; otherwise the number of classes (AC-GAN).
    latent_dim : int
        Size of the noise vector (100 in the paper).
    width : int
        Channels of the last hidden map; the first is ``8 * width`` at 4x4 (128 -> 1024).
    embed_dim : int
        Size of the class embedding concatenated to the noise (conditional only).
    out_channels : int
        Image channels.

    Examples
    --------
    >>> g = DCGANGenerator2d(width=8)
    >>> g(torch.randn(2, 100), None).shape
    torch.Size([2, 1, 64, 64])
    >>> g = DCGANGenerator2d(num_classes=3, width=8)
    >>> g(torch.randn(2, 100), torch.tensor([0, 2])).shape
    torch.Size([2, 1, 64, 64])
    """

    def __init__(
        self,
        num_classes: int = 0,
        *,
        latent_dim: int = 100,
        width: int = 128,
        embed_dim: int = 50,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        _check_positive(latent_dim=latent_dim, width=width, embed_dim=embed_dim)
        if num_classes < 0:
            raise ConfigError(f"must be >= 0, got {num_classes}", field="num_classes")
        self.latent_dim, self.num_classes, self.width = latent_dim, num_classes, width
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        in_dim = latent_dim + (embed_dim if num_classes > 0 else 0)
        self.project = nn.Linear(in_dim, 8 * width * 4 * 4, bias=False)
        self.bn0 = nn.BatchNorm2d(8 * width)
        layers: list[nn.Module] = []
        channels = [8 * width, 4 * width, 2 * width, width]
        for c_in, c_out in itertools.pairwise(channels):
            layers += [_up(c_in, c_out, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [_up(width, out_channels, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)  # 4 -> 8 -> 16 -> 32 -> 64
        self.apply(dcgan_init_)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (B, {self.latent_dim}), got {tuple(z.shape)}")
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is conditional: pass class labels y")
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, latent + embed)
        h = self.project(z).view(z.shape[0], 8 * self.width, 4, 4)  # (B, 8w, 4, 4)
        h = torch.relu(self.bn0(h))
        return self.net(h)  # (B, 1, 64, 64)


class DCGANDiscriminator2d(nn.Module):
    """A ``(B, 1, 64, 64)`` image -> adversarial logits, and class logits for AC-GAN.

    Parameters
    ----------
    num_classes : int
        0: unconditional, ``forward`` returns logits ``(B,)``. ``K >= 2``: AC-GAN, it
        returns ``(logits (B,), class_logits (B, K))``; the class labels passed to
        ``forward`` are ignored (the class is predicted, not given).
    width : int
        Channels of the first convolution, doubled per layer (64 -> 512 at 4x4).
    batchnorm : bool
        BatchNorm after convolutions 2-4 (DCGAN); turn off for a gradient penalty.
    minibatch_std : bool
        Append the batch-stddev feature map before the last convolution (Karras et al.
        2018), which lets the discriminator see a batch without variety and so counters
        mode collapse; not in the original DCGAN.
    in_channels : int
        Image channels.

    Examples
    --------
    >>> d = DCGANDiscriminator2d(width=8)
    >>> d(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2])
    >>> adv, cls = DCGANDiscriminator2d(num_classes=3, width=8)(torch.randn(2, 1, 64, 64))
    >>> adv.shape, cls.shape
    (torch.Size([2]), torch.Size([2, 3]))
    """

    def __init__(
        self,
        num_classes: int = 0,
        *,
        width: int = 64,
        batchnorm: bool = True,
        minibatch_std: bool = False,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        _check_positive(width=width)
        if num_classes == 1 or num_classes < 0:
            raise ConfigError(
                f"must be 0 (unconditional) or >= 2 (AC-GAN), got {num_classes}",
                field="num_classes",
            )
        self.num_classes, self.width = num_classes, width
        channels = [in_channels, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            norm = batchnorm and i > 0  # Radford et al.: no BatchNorm on D's input layer
            if minibatch_std and i == len(channels) - 2:
                layers.append(MinibatchStd())
                c_in += 1
            layers.append(nn.Conv2d(c_in, c_out, _KERNEL, 2, _KERNEL // 2, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.net = nn.Sequential(*layers)  # 64 -> 32 -> 16 -> 8 -> 4
        features = 8 * width * 4 * 4
        self.adv = nn.Linear(features, 1)
        self.classifier = nn.Linear(features, num_classes) if num_classes > 0 else None
        self.apply(dcgan_init_)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[2:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"x must be (B, C, 64, 64), got {tuple(x.shape)}")
        h = self.net(x).flatten(1)  # (B, 8w * 4 * 4)
        logits = self.adv(h).squeeze(1)  # (B,)
        if self.classifier is not None:
            return logits, self.classifier(h)  # (B,), (B, K)
        return logits


def build_dcgan2d(
    num_classes: int = 0,
    *,
    latent_dim: int = 100,
    g_width: int = 128,
    d_width: int = 64,
    d_batchnorm: bool = True,
    d_minibatch_std: bool = False,
    seed: int = 0,
) -> tuple[DCGANGenerator2d, DCGANDiscriminator2d]:
    """Build a generator and discriminator pair with weights drawn from ``seed``.

    ``num_classes=0`` gives the unconditional pair (train one per class); ``K >= 2`` the
    AC-GAN pair. The global torch RNG is left as it was.

    Examples
    --------
    >>> g, d = build_dcgan2d(num_classes=3, g_width=8, d_width=8, seed=1)
    >>> g2, _ = build_dcgan2d(num_classes=3, g_width=8, d_width=8, seed=1)
    >>> torch.equal(g.project.weight, g2.project.weight)
    True
    """
    with seeded(seed):
        generator = DCGANGenerator2d(num_classes, latent_dim=latent_dim, width=g_width)
        discriminator = DCGANDiscriminator2d(
            num_classes, width=d_width, batchnorm=d_batchnorm, minibatch_std=d_minibatch_std
        )
    return generator, discriminator


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): weights N(0, 0.02), BatchNorm N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _up(c_in: int, c_out: int, *, bias: bool) -> nn.ConvTranspose2d:
    # Fractionally-strided 5x5 convolution that exactly doubles the side: padding 2 and
    # output_padding 1 give out = 2 * in.
    return nn.ConvTranspose2d(
        c_in, c_out, _KERNEL, stride=2, padding=_KERNEL // 2, output_padding=1, bias=bias
    )


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ConfigError(f"must be an integer >= 1, got {value}", field=name)

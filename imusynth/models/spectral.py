"""Discriminators that look at spectra: a multi-resolution STFT critic beside the time domain.

A time-domain convolutional critic weighs what carries the most power, the slow movement
itself; the fast content (strap wobble, tremor, sensor noise) is orders of magnitude weaker
and easy for it to overlook, yet a random forest on band energies separates synthetic from
real windows by exactly that. Audio GANs met the same problem and added critics over
STFT magnitudes at several resolutions (UnivNet, Jang et al. 2021; the multi-resolution STFT
loss of Parallel WaveGAN, Yamamoto et al. 2020). On a log scale every band weighs alike.

:class:`CombinedDiscriminator1d` runs a time-domain critic and any number of
:class:`STFTDiscriminator1d` and returns the sum of their logits, so it fits the
discriminator protocol of :func:`imusynth.train.loop.fit_gan` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imusynth.models.blocks import MinibatchStd, ProjectionCritic1d, maybe_spectral_norm

__all__ = ["CombinedDiscriminator1d", "STFTDiscriminator1d", "log_stft_magnitude"]


def log_stft_magnitude(x: Tensor, n_fft: int, floor: float = 1e-3) -> Tensor:
    """``log(|STFT| + floor)`` of every channel, ``(B, C, T) -> (B, C, n_fft // 2 + 1, frames)``.

    Hann window, hop ``n_fft // 4``, reflect-padded ends (``center``; zero-padded when the
    window is too short to reflect ``n_fft // 2`` samples). The magnitude is
    ``sqrt(re**2 + im**2 + floor**2)`` so its gradient stays finite at zero.

    Examples
    --------
    >>> log_stft_magnitude(torch.randn(2, 6, 250), 32).shape
    torch.Size([2, 6, 17, 32])
    """
    b, c, t = x.shape
    window = torch.hann_window(n_fft, device=x.device, dtype=torch.float32)
    spec = torch.stft(
        x.float().reshape(b * c, t),  # (B*C, T)
        n_fft,
        hop_length=n_fft // 4,
        window=window,
        center=True,
        pad_mode="reflect" if t > n_fft // 2 else "constant",
        return_complex=True,
    )  # (B*C, F, frames)
    mag = torch.sqrt(spec.real**2 + spec.imag**2 + floor**2)
    return torch.log(mag + floor).reshape(b, c, *mag.shape[1:])  # (B, C, F, frames)


class STFTDiscriminator1d(ProjectionCritic1d):
    """A projection critic over the log STFT magnitudes of one resolution.

    Channels and frequency bins are stacked as input channels of 1D convolutions over the
    frames (the window is only a few dozen frames long), with a minibatch-stddev feature
    before the last block, so the critic also sees too little spread of the spectra across
    a batch (the narrow band-energy spread of a partly collapsed generator).

    Parameters
    ----------
    n_channels, num_classes : int
        As for :class:`~imusynth.models.gan1d.ProjectionDiscriminator1d`.
    n_fft : int
        FFT size (hop ``n_fft // 4``).
    width : int
        Channels of the convolutions.
    spectral_norm : bool
    n_sides : int

    Examples
    --------
    >>> d = STFTDiscriminator1d(6, 7, n_fft=32)
    >>> d(torch.randn(4, 6, 250), torch.tensor([0, 1, 2, 6])).shape
    torch.Size([4])
    """

    def __init__(
        self,
        n_channels: int,
        num_classes: int,
        *,
        n_fft: int = 32,
        width: int = 64,
        spectral_norm: bool = True,
        n_sides: int = 0,
    ) -> None:
        super().__init__()
        self.n_fft, self.num_classes, self.n_sides = n_fft, num_classes, n_sides
        c_in = n_channels * (n_fft // 2 + 1)

        def conv(c_i: int, c_o: int, stride: int) -> nn.Module:
            return maybe_spectral_norm(nn.Conv1d(c_i, c_o, 3, stride, padding=1), spectral_norm)

        self.blocks = nn.ModuleList([conv(c_in, width, 1), conv(width, width, 2)])
        self.mbstd = MinibatchStd()
        self.last = conv(width + 1, width, 2)
        self._add_projection(width, num_classes, n_sides, spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None, side: Tensor | None = None) -> Tensor:
        # The STFT runs in float32 even under autocast (torch.stft has no bf16 kernel).
        with torch.autocast(x.device.type, enabled=False):
            s = log_stft_magnitude(x, self.n_fft)  # (B, C, F, frames)
        h = s.flatten(1, 2).to(x.dtype)  # (B, C*F, frames)
        for block in self.blocks:
            h = F.leaky_relu(block(h), 0.2)
        h = F.leaky_relu(self.last(self.mbstd(h)), 0.2)  # (B, W, frames')
        phi = h.mean(dim=-1)  # (B, W)
        return self._project(phi, y, side)  # (B,)


class CombinedDiscriminator1d(nn.Module):
    """A time-domain critic plus spectral critics; their adversarial logits are summed.

    Summing the logits keeps the discriminator protocol (one ``(B,)`` logit, or with an
    auxiliary head ``(logits, class_logits)`` taken from the time-domain critic), so the
    training loop, the losses and the penalties need no change.

    Parameters
    ----------
    time_critic : nn.Module
        E.g. :class:`~imusynth.models.gan1d.ProjectionDiscriminator1d`.
    spectral_critics : sequence of nn.Module
        E.g. :class:`STFTDiscriminator1d` at several ``n_fft``.

    Examples
    --------
    >>> from imusynth.models.gan1d import ProjectionDiscriminator1d
    >>> d = CombinedDiscriminator1d(
    ...     ProjectionDiscriminator1d(6, 7), [STFTDiscriminator1d(6, 7, n_fft=n) for n in (16, 64)]
    ... )
    >>> d(torch.randn(3, 6, 250), torch.tensor([0, 1, 2])).shape
    torch.Size([3])
    """

    def __init__(self, time_critic: nn.Module, spectral_critics: Sequence[nn.Module]) -> None:
        super().__init__()
        self.time_critic = time_critic
        self.spectral_critics = nn.ModuleList(spectral_critics)

    @property
    def classifier(self) -> nn.Module | None:
        """The time-domain critic's auxiliary class head (AC-GAN), if it has one."""
        return getattr(self.time_critic, "classifier", None)

    def forward(
        self, x: Tensor, y: Tensor | None = None, side: Tensor | None = None
    ) -> Tensor | tuple[Tensor, Tensor]:
        out = self.time_critic(x, y, side)
        logits, cls = out if isinstance(out, tuple) else (out, None)
        for critic in self.spectral_critics:
            logits = logits + critic(x, y, side)  # (B,)
        return logits if cls is None else (logits, cls)

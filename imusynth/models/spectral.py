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

A time-domain critic of a few stride-2 blocks sees about a second of the window at once, so
it cannot tell whether the movement repeats; exercises are done in repetitions of 1-3 s, and
a CNN judge tells windows that do not repeat from real ones. :class:`RepetitionCritic1d`
looks at each channel's autocorrelation up to a few seconds instead, where a repetition is a
peak at its period.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imusynth.models.blocks import MinibatchStd, ProjectionCritic1d, maybe_spectral_norm

__all__ = [
    "CombinedDiscriminator1d",
    "RepetitionCritic1d",
    "STFTDiscriminator1d",
    "autocorrelation",
    "log_stft_magnitude",
    "time_asymmetry",
]


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


def autocorrelation(x: Tensor, max_lag: int) -> Tensor:
    """Each channel's autocorrelation at lags ``0 .. max_lag - 1`` over its value at lag 0,
    ``(B, C, T) -> (B, C, max_lag)``: the biased estimate (sums over the overlap, divided
    alike), of the window less its mean, by FFT.

    Examples
    --------
    >>> t = torch.arange(250.0)
    >>> ac = autocorrelation(torch.sin(2 * torch.pi * t / 50)[None, None], 120)
    >>> round(float(ac[0, 0, 0]), 3), int(ac[0, 0, 30:].argmax()) + 30  # a peak at the period
    (1.0, 50)
    """
    t = x.shape[-1]
    x = x - x.mean(dim=-1, keepdim=True)
    spec = torch.fft.rfft(x, n=2 * t, dim=-1)
    ac = torch.fft.irfft(spec.real**2 + spec.imag**2, n=2 * t, dim=-1)[..., :max_lag]
    return ac / ac[..., :1].clamp_min(1e-8)


def time_asymmetry(x: Tensor, max_lag: int) -> Tensor:
    """Each channel's time-reversal asymmetry at lags ``0 .. max_lag - 1``,
    ``(B, C, T) -> (B, C, max_lag)``: ``mean_t(z[t+k]^2 z[t] - z[t+k] z[t]^2)`` of the window
    standardised (``z``: less its mean, over its sd), over the overlap, divided by ``T``
    (biased, like :func:`autocorrelation`), by FFT.

    It changes sign when the window is played backwards and is about 0 for a movement that
    looks the same both ways; autocorrelations and STFT magnitudes cannot tell the two
    directions apart, so a critic that sees only them lets a generator make movements that
    rise and fall at the wrong rates (Schreiber and Schmitz's reversibility statistic, in the
    third-order form of bicorrelation tests).

    Examples
    --------
    >>> t = torch.arange(250.0)
    >>> saw = (t % 50) / 50  # slow rise, sudden fall
    >>> x = torch.stack([saw, saw.flip(-1), torch.sin(2 * torch.pi * t / 50)])[None]
    >>> a = time_asymmetry(x, 10)[0, :, 5]
    >>> bool(a[0] > 0.5), bool(torch.isclose(a[1], -a[0], atol=0.02)), bool(a[2].abs() < 0.01)
    (True, True, True)
    """
    t = x.shape[-1]
    x = x - x.mean(dim=-1, keepdim=True)
    z = x / x.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)
    f1 = torch.fft.rfft(z, n=2 * t, dim=-1)
    f2 = torch.fft.rfft(z * z, n=2 * t, dim=-1)
    # sum_t a[t + k] b[t] is irfft(A conj(B)); a = z^2, b = z minus a = z, b = z^2
    cross = f2 * f1.conj() - f1 * f2.conj()
    return torch.fft.irfft(cross, n=2 * t, dim=-1)[..., :max_lag] / t


class _LagCritic1d(ProjectionCritic1d):
    """Shared trunk of the spectral critics: two convolutions of ``kernel`` taps (the second
    stride 2) over ``c_in`` input channels, a minibatch-stddev feature, a last stride-2
    convolution, then the projection logit of the mean over the last axis (frames or lags).
    Subclasses turn a window into those ``c_in`` channels."""

    def __init__(
        self,
        c_in: int,
        kernel: int,
        num_classes: int,
        width: int,
        spectral_norm: bool,
        n_sides: int,
    ) -> None:
        super().__init__()
        self.num_classes, self.n_sides = num_classes, n_sides

        def conv(c_i: int, c_o: int, stride: int) -> nn.Module:
            layer = nn.Conv1d(c_i, c_o, kernel, stride, kernel // 2)
            return maybe_spectral_norm(layer, spectral_norm)

        self.blocks = nn.ModuleList([conv(c_in, width, 1), conv(width, width, 2)])
        self.mbstd = MinibatchStd()
        self.last = conv(width + 1, width, 2)
        self._add_projection(width, num_classes, n_sides, spectral_norm)

    def _trunk(self, h: Tensor, y: Tensor | None, side: Tensor | None) -> Tensor:
        for block in self.blocks:
            h = F.leaky_relu(block(h), 0.2)
        h = F.leaky_relu(self.last(self.mbstd(h)), 0.2)  # (B, W, L')
        return self._project(h.mean(dim=-1), y, side)  # (B,)


class RepetitionCritic1d(_LagCritic1d):
    """A projection critic over each channel's autocorrelation (lags up to ``max_lag``).

    Convolutions run over the lags (channels as input channels), with a minibatch-stddev
    feature before the last block, then the projection logit of the mean over lags.

    Parameters
    ----------
    max_lag : int
        Lags seen, in samples (e.g. 3 s of the data's rate; at most the window's length).
    asymmetry : bool
        Also see each channel's :func:`time_asymmetry` at the same lags (stacked after the
        autocorrelations as input channels), so the critic tells a movement from the same
        movement played backwards.
    n_channels, num_classes, width, spectral_norm, n_sides
        As for :class:`STFTDiscriminator1d`.

    Examples
    --------
    >>> d = RepetitionCritic1d(6, 7, max_lag=150)
    >>> d(torch.randn(4, 6, 250), torch.tensor([0, 1, 2, 6])).shape
    torch.Size([4])
    """

    def __init__(
        self,
        n_channels: int,
        num_classes: int,
        *,
        max_lag: int,
        asymmetry: bool = False,
        width: int = 64,
        spectral_norm: bool = True,
        n_sides: int = 0,
    ) -> None:
        c_in = 2 * n_channels if asymmetry else n_channels
        super().__init__(c_in, 5, num_classes, width, spectral_norm, n_sides)
        self.max_lag, self.asymmetry = max_lag, asymmetry

    def forward(self, x: Tensor, y: Tensor | None = None, side: Tensor | None = None) -> Tensor:
        lags = min(self.max_lag, x.shape[-1])
        with torch.autocast(x.device.type, enabled=False):  # FFT in float32
            x32 = x.float()
            h = autocorrelation(x32, lags)
            if self.asymmetry:
                h = torch.cat((h, time_asymmetry(x32, lags)), dim=1)  # (B, 2C, lags)
        return self._trunk(h.to(x.dtype), y, side)  # (B,) from (B, C, lags)


class STFTDiscriminator1d(_LagCritic1d):
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
        super().__init__(
            n_channels * (n_fft // 2 + 1), 3, num_classes, width, spectral_norm, n_sides
        )
        self.n_fft = n_fft

    def forward(self, x: Tensor, y: Tensor | None = None, side: Tensor | None = None) -> Tensor:
        # The STFT runs in float32 even under autocast (torch.stft has no bf16 kernel).
        with torch.autocast(x.device.type, enabled=False):
            s = log_stft_magnitude(x, self.n_fft)  # (B, C, F, frames)
        return self._trunk(s.flatten(1, 2).to(x.dtype), y, side)  # (B,) from (B, C*F, frames)


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

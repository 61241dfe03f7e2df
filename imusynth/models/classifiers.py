"""Classifier networks: the CNN of Frid-Adar et al. and a residual 1D CNN.

nn.Modules only; :class:`imusynth.train.classifiers.CNNClassifier` is the scikit-learn
estimator that fits them (``imusynth.models.classifiers.CNNClassifier`` is its deprecated
alias, looked up lazily).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from imusynth._alias import MOVED, lazy_alias
from imusynth.errors import ConfigError, DataError

__all__ = ["ARCHS", "FridAdarCNN", "ResNet1D", "build_classifier_net"]

ARCHS = ("frid_adar", "resnet")
_DEFAULT_DROPOUT = {"frid_adar": 0.5, "resnet": 0.2}


class FridAdarCNN(nn.Module):
    """conv32-pool-conv64-pool-conv128-pool-dense256-dropout-linear (Frid-Adar et al. 2018).

    The paper's lesion classifier (5x5 convolutions, 2x2 max-pooling, ReLU). ``dim=1`` gives
    the same network for ``(B, C, T)`` windows with kernels of 5 samples and pooling by 2.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    input_shape : sequence of int
        ``(T,)`` for ``dim=1`` or ``(H, W)`` for ``dim=2``; each side must be at least 8.
    dropout : float
        Dropout before the output layer (0.5 in the paper).

    Examples
    --------
    >>> net = FridAdarCNN(6, 7, (250,))
    >>> net(torch.zeros(2, 6, 250)).shape
    torch.Size([2, 7])
    >>> FridAdarCNN(1, 3, (64, 64))(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 3])
    """

    widths = (32, 64, 128)
    hidden = 256

    def __init__(
        self, in_channels: int, n_classes: int, input_shape: Sequence[int], dropout: float = 0.5
    ) -> None:
        super().__init__()
        dim = len(input_shape)
        if dim not in (1, 2) or min(input_shape) < 8:
            raise DataError(
                f"Frid-Adar CNN needs (T,) or (H, W) of at least 8, got {tuple(input_shape)}",
                field="X",
            )
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        pool = nn.MaxPool1d if dim == 1 else nn.MaxPool2d
        layers: list[nn.Module] = []
        c_in = in_channels
        for width in self.widths:
            layers += [conv(c_in, width, 5, padding=2), nn.ReLU(inplace=True), pool(2)]
            c_in = width
        self.conv = nn.Sequential(*layers)
        n_flat = self.widths[-1] * int(np.prod([s // 8 for s in input_shape]))
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, self.hidden), nn.ReLU(True))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(self.hidden, n_classes)
        self.embed_dim = self.hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(B, 256)``."""
        return self.dense(self.conv(x))  # (B, 128, T/8) -> (B, 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = 5) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class ResNet1D(nn.Module):
    """Residual 1D CNN with global average pooling (after Wang et al. 2017, strided for speed).

    stem conv(k7, stride 2) -> residual blocks of ``width``, ``2 width``, ``4 width`` channels
    (the last two halve the time axis) -> global average pooling -> dropout -> linear.
    Global pooling makes the features insensitive to where in the window a repetition falls.

    Parameters
    ----------
    in_channels, n_classes : int
    width : int
        Channels of the first stage.
    dropout : float
    window_norm : bool
        Standardise each window's channels over time before the stem. This removes the mean
        (for a watch: the direction of gravity), which is why it is off by default.
    window_stats : bool
        Append each input channel's mean and standard deviation over the window to the
        pooled features, so the head sees the level (gravity direction) explicitly, even
        when ``window_norm`` hides it from the convolutions.

    Examples
    --------
    >>> net = ResNet1D(6, 7, width=8)
    >>> net(torch.zeros(3, 6, 250)).shape
    torch.Size([3, 7])
    >>> net.features(torch.zeros(3, 6, 250)).shape
    torch.Size([3, 32])
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        *,
        width: int = 32,
        dropout: float = 0.2,
        window_norm: bool = False,
        window_stats: bool = False,
    ) -> None:
        super().__init__()
        self.window_norm = window_norm
        self.window_stats = window_stats
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(
            _ResBlock(width, width, 1),
            _ResBlock(width, 2 * width, 2),
            _ResBlock(2 * width, 4 * width, 2),
        )
        self.drop = nn.Dropout(dropout)
        self.embed_dim = 4 * width + (2 * in_channels if window_stats else 0)
        self.out = nn.Linear(self.embed_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled activations ``(B, 4 width)`` (+ ``(B, 2 C)`` window statistics)."""
        mean, std = x.mean(2), x.std(2)  # (B, C)
        if self.window_norm:
            x = (x - mean[..., None]) / (std[..., None] + 1e-3)  # (B, C, T)
        pooled = self.blocks(self.stem(x)).mean(2)  # (B, 4w, T/8) -> (B, 4w)
        if self.window_stats:
            pooled = torch.cat([pooled, mean, std], dim=1)  # (B, 4w + 2C)
        return pooled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))


def build_classifier_net(
    arch: str,
    in_channels: int,
    n_classes: int,
    input_shape: Sequence[int],
    *,
    dropout: float | None = None,
    width: int = 32,
    window_norm: bool = False,
    window_stats: bool = False,
) -> nn.Module:
    """Build a classifier network by name (``"frid_adar"`` or ``"resnet"``).

    Examples
    --------
    >>> build_classifier_net("resnet", 6, 7, (250,), width=8).embed_dim
    32
    """
    if arch not in ARCHS:
        raise ConfigError(f"unknown classifier arch {arch!r}; choose one of {ARCHS}", field="arch")
    p = _DEFAULT_DROPOUT[arch] if dropout is None else dropout
    if arch == "frid_adar":
        return FridAdarCNN(in_channels, n_classes, input_shape, dropout=p)
    if len(input_shape) != 1:
        raise DataError(
            f"arch 'resnet' takes (N, C, T) windows, got input of shape {tuple(input_shape)}",
            field="X",
        )
    return ResNet1D(
        in_channels,
        n_classes,
        width=width,
        dropout=p,
        window_norm=window_norm,
        window_stats=window_stats,
    )


# The estimator trains networks, so it lives in the trainer (floor 3), above models.
__getattr__, _ = lazy_alias(
    __name__, "imusynth.train.classifiers", names=["CNNClassifier"], message=MOVED
)

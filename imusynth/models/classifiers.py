"""Exercise (and lesion) classifiers: the CNN of Frid-Adar et al., a residual 1D CNN, and a
scikit-learn estimator that fits either of them.

:class:`CNNClassifier` is a scikit-learn classifier, so the experiment runner, imbalanced-learn
pipelines and ``cross_validate`` treat it like the feature random forest of
:mod:`imusynth.models.features`. It accepts windows ``(N, C, T)`` or images ``(N, 1, H, W)``;
it standardises channels with a :class:`~imusynth.data.normalize.ChannelNormalizer` fit inside
``fit`` (training data only), and holds out whole subjects for early stopping when ``groups``
are given.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from imusynth.data.normalize import ChannelNormalizer
from imusynth.errors import ConfigError, DataError
from imusynth.runtime import resolve_device
from imusynth.train.classify import (
    ClassifierTrainConfig,
    group_validation_split,
    predict_logits,
    train_classifier,
)

__all__ = ["ARCHS", "CNNClassifier", "FridAdarCNN", "ResNet1D", "build_classifier_net"]

log = logging.getLogger(__name__)

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


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier around :class:`FridAdarCNN` or :class:`ResNet1D`.

    Parameters
    ----------
    arch : {"frid_adar", "resnet"}
        ``"frid_adar"`` works on windows ``(N, C, T)`` and images ``(N, 1, H, W)`` (the
        dimension is taken from ``X.ndim``); ``"resnet"`` on windows only.
    epochs, batch_size, lr, weight_decay
        See :class:`~imusynth.train.classify.ClassifierTrainConfig`.
    dropout : float, optional
        None uses the architecture's default (0.5 Frid-Adar, 0.2 ResNet).
    width : int
        Channels of the first ResNet stage (ignored by Frid-Adar).
    window_norm, window_stats : bool
        ResNet only: standardise every window over time, and give the head each window's
        channel means and standard deviations (see :class:`ResNet1D`).
    class_weight : None, "balanced" or dict
        Weights of the cross-entropy terms; ``"balanced"`` is ``n / (K * count)``.
    val_fraction : float
        Share of the training subjects (of windows, stratified, when ``groups`` is not given)
        held out for early stopping; 0 trains on everything for ``epochs`` epochs.
    patience : int or None
        Early-stopping patience in epochs.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    random_state : int, optional
        Seeds initialisation, dropout, batch order and the validation split; the global torch
        RNG is forked for the duration of ``fit`` and restored afterwards.
    progress : bool
        Show a progress bar over epochs.
    augment : callable, optional
        ``augment(X_batch, rng) -> X_batch``, applied to each raw training batch on the fly.

    Attributes
    ----------
    classes_ : ndarray
    net_ : torch.nn.Module
    normalizer_ : ChannelNormalizer
    history_ : TrainHistory

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2, 32)).astype(np.float32)
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1, 0] += 2.0
    >>> clf = CNNClassifier(epochs=5, val_fraction=0.0, random_state=0).fit(X, y)
    >>> float(clf.score(X, y)) > 0.9
    True
    >>> clf.transform(X).shape
    (40, 256)
    """

    def __init__(
        self,
        arch: str = "frid_adar",
        *,
        epochs: int = 60,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float | None = None,
        width: int = 32,
        window_norm: bool = False,
        window_stats: bool = False,
        class_weight: str | dict | None = None,
        val_fraction: float = 0.2,
        patience: int | None = 10,
        device: str = "cpu",
        random_state: int | None = None,
        progress: bool = False,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ) -> None:
        self.arch = arch
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.width = width
        self.window_norm = window_norm
        self.window_stats = window_stats
        self.class_weight = class_weight
        self.val_fraction = val_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self.augment = augment

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> CNNClassifier:
        """Fit on windows ``X`` and labels ``y``; ``groups`` (subject ids) steer early stopping."""
        X = _check_X(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise DataError(f"y has shape {y.shape}, expected ({len(X)},)", field="y")
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),):
                raise DataError(
                    f"groups has shape {groups.shape}, expected ({len(X)},)", field="groups"
                )
        self._check_params()
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError("need at least two classes to fit a classifier", field="y")
        codes = codes.astype(np.int64)
        self.device_ = resolve_device(self.device)
        seed = self.random_state
        rng = np.random.default_rng(seed)  # None: fresh OS entropy, not a global RNG

        tr, va = np.arange(len(X)), np.array([], dtype=np.int64)
        if self.val_fraction > 0:
            tr, va = group_validation_split(codes, groups, self.val_fraction, rng)
            if len(tr) == 0 or len(va) == 0:
                tr, va = np.arange(len(X)), np.array([], dtype=np.int64)
        self.normalizer_ = ChannelNormalizer().fit(X[tr])
        cfg = ClassifierTrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            patience=self.patience if len(va) else None,
        )
        with self._seeded(seed):
            self.net_ = build_classifier_net(
                self.arch,
                X.shape[1],
                len(self.classes_),
                X.shape[2:],
                dropout=self.dropout,
                width=self.width,
                window_norm=self.window_norm,
                window_stats=self.window_stats,
            )
            self.history_ = train_classifier(
                self.net_,
                X[tr],
                codes[tr],
                cfg,
                prepare=self.normalizer_.transform,
                rng=rng,
                device=self.device_,
                X_val=X[va] if len(va) else None,
                y_val=codes[va] if len(va) else None,
                class_weights=self._class_weights(codes[tr]),
                augment=self.augment,
                progress=self.progress,
            )
        self.input_shape_ = X.shape[1:]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, K)``, columns in the order of ``classes_``."""
        logits = self._run(X, head=None)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Penultimate-layer features ``(N, embed_dim)`` (for the Fréchet distance)."""
        return self._run(X, head=lambda net, x: net.features(x)).numpy()

    embed = transform

    # -- internals -------------------------------------------------------------------------
    def _run(self, X: np.ndarray, head: Callable | None) -> torch.Tensor:
        if not hasattr(self, "net_"):
            raise RuntimeError("CNNClassifier is not fitted; call fit(X, y) first")
        X = _check_X(X)
        if X.shape[1:] != self.input_shape_:
            raise DataError(
                f"expected windows of shape {self.input_shape_}, got {X.shape[1:]}", field="X"
            )
        return predict_logits(
            self.net_, X, prepare=self.normalizer_.transform, device=self.device_, head=head
        )

    def _check_params(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; choose one of {ARCHS}", field="arch")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ConfigError("epochs must be >= 1 and batch_size >= 2", field="epochs")

    def _class_weights(self, codes: np.ndarray) -> np.ndarray | None:
        k = len(self.classes_)
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            counts = np.bincount(codes, minlength=k).astype(np.float64)
            return len(codes) / (k * np.maximum(counts, 1.0))
        if isinstance(self.class_weight, dict):
            return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])
        raise ConfigError(
            f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}",
            field="class_weight",
        )

    def _seeded(self, seed: int | None) -> contextlib.AbstractContextManager:
        # Weight init and dropout draw from torch's global RNG; fork it so a seeded fit is
        # reproducible without changing the caller's RNG state.
        if seed is None:
            return contextlib.nullcontext()
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=devices))
        torch.manual_seed(int(seed))
        return stack


def _check_X(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim not in (3, 4):
        raise DataError(
            f"expected windows (N, C, T) or images (N, 1, H, W), got shape {X.shape}", field="X"
        )
    if len(X) == 0:
        raise DataError("no windows", field="X")
    if not np.all(np.isfinite(X)):
        raise DataError("NaN or Inf in windows", field="X")
    return X

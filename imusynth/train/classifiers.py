"""The scikit-learn estimator that fits the networks of :mod:`imusynth.models.classifiers`.

:class:`CNNClassifier` is a scikit-learn classifier, so the experiment runner, imbalanced-learn
pipelines and ``cross_validate`` treat it like the feature random forest of
:mod:`imusynth.models.features`. It accepts windows ``(N, C, T)`` or images ``(N, 1, H, W)``;
it standardises channels with a :class:`~imusynth.data.normalize.ChannelNormalizer` fit inside
``fit`` (training data only), and holds out whole subjects for early stopping when ``groups``
are given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from imusynth.data.normalize import ChannelNormalizer
from imusynth.errors import ConfigError, DataError
from imusynth.models.classifiers import ARCHS, build_classifier_net
from imusynth.runtime import resolve_device, seeded
from imusynth.train.classify import (
    ClassifierTrainConfig,
    group_validation_split,
    predict_logits,
    train_classifier,
)

__all__ = ["CNNClassifier"]


@dataclass(repr=False, eq=False)
class CNNClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier around :class:`~imusynth.models.classifiers.FridAdarCNN` or
    :class:`~imusynth.models.classifiers.ResNet1D`.

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
        channel means and standard deviations (see
        :class:`~imusynth.models.classifiers.ResNet1D`).
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

    arch: str = "frid_adar"
    _: KW_ONLY
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float | None = None
    width: int = 32
    window_norm: bool = False
    window_stats: bool = False
    class_weight: str | dict | None = None
    val_fraction: float = 0.2
    patience: int | None = 10
    device: str = "cpu"
    random_state: int | None = None
    progress: bool = False
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None

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
        return seeded(int(seed), self.device_)


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

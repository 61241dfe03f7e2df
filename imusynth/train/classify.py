"""Supervised fitting of a classifier network: mini-batches, class weights, early stopping.

The loop is deliberately small: AdamW with a cosine learning-rate schedule, cross-entropy
(optionally class-weighted), and early stopping on a held-out validation set whose best
weights are restored at the end. The validation split is made by subject when subject ids
are known (:func:`group_validation_split`), so early stopping is not fooled by windows of a
subject it also trains on.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "ClassifierTrainConfig",
    "TrainHistory",
    "group_validation_split",
    "predict_logits",
    "train_classifier",
]

log = logging.getLogger(__name__)

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class ClassifierTrainConfig:
    """Hyper-parameters of :func:`train_classifier`.

    Parameters
    ----------
    epochs : int
        Maximum number of passes over the training set.
    batch_size : int
    lr : float
        Peak learning rate of AdamW; it decays to zero with a cosine schedule over ``epochs``.
    weight_decay : float
        AdamW's decoupled weight decay.
    patience : int or None
        Stop after this many epochs without a lower validation loss (needs a validation set);
        None trains for all ``epochs``.
    """

    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int | None = 10


@dataclass
class TrainHistory:
    """Per-epoch losses and the epoch whose weights were kept (0-based)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = -1


def group_validation_split(
    y: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation), whole subjects at a time when possible.

    With at least two distinct ``groups``, about ``fraction`` of the subjects (at least one,
    never all) go to validation; rows whose group is ``""`` (synthetic rows with no subject)
    are never validated on. Otherwise the split is by window, stratified by class.

    Examples
    --------
    >>> y = np.array([0, 1] * 6)
    >>> g = np.repeat(["a", "b", "c", "d"], 3)
    >>> tr, va = group_validation_split(y, g, 0.25, np.random.default_rng(0))
    >>> len(set(g[tr]) & set(g[va]))
    0
    """
    n = len(y)
    if groups is not None:
        # Rows without a subject (group "": GAN or SMOTE samples) always train.
        subjects = np.unique(groups[groups != ""])
        if len(subjects) >= 2:
            n_val = int(np.clip(round(fraction * len(subjects)), 1, len(subjects) - 1))
            val_subjects = rng.choice(subjects, size=n_val, replace=False)
            is_val = np.isin(groups, val_subjects)
            return np.flatnonzero(~is_val), np.flatnonzero(is_val)
    is_val = np.zeros(n, dtype=bool)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        n_val = round(fraction * len(idx))
        if 0 < n_val < len(idx):
            is_val[rng.choice(idx, size=n_val, replace=False)] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def train_classifier(
    net: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    cfg: ClassifierTrainConfig,
    *,
    prepare: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    device: torch.device,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    class_weights: np.ndarray | None = None,
    augment: Augment | None = None,
    progress: bool = False,
) -> TrainHistory:
    """Fit ``net`` in place on integer labels ``y`` (0..K-1) and return the loss history.

    Parameters
    ----------
    net : nn.Module
        Maps a float32 batch to logits ``(B, K)``.
    X, y : ndarray
        Raw training windows ``(N, C, T)`` or images ``(N, 1, H, W)``, and label codes.
    cfg : ClassifierTrainConfig
    prepare : callable
        Turns a raw batch into the network's input (e.g. a fitted channel normaliser). It runs
        after ``augment``, so augmenters work in physical units.
    rng : numpy.random.Generator
        Shuffles batches and drives ``augment``.
    device : torch.device
    X_val, y_val : ndarray, optional
        Validation windows for early stopping; the weights of the epoch with the lowest
        validation loss are restored.
    class_weights : ndarray of shape (K,), optional
        Weights of the cross-entropy terms.
    augment : callable, optional
        ``augment(X_batch, rng) -> X_batch`` applied to every training batch on the fly.
    progress : bool
        Show a tqdm bar over epochs.

    Returns
    -------
    TrainHistory

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> X = np.random.default_rng(0).normal(size=(32, 1, 4)).astype(np.float32)
    >>> y = (X[:, 0, 0] > 0).astype(np.int64)
    >>> cfg = ClassifierTrainConfig(epochs=2, batch_size=8, patience=None)
    >>> h = train_classifier(net, X, y, cfg, prepare=lambda a: a,
    ...                      rng=np.random.default_rng(0), device=torch.device("cpu"))
    >>> len(h.train_loss)
    2
    """
    net.to(device)
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=torch.float32, device=device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    has_val = X_val is not None and y_val is not None and len(y_val) > 0
    history = TrainHistory()
    best_loss, best_state, stale = np.inf, None, 0

    for epoch in tqdm(range(cfg.epochs), disable=not progress, desc="fit", leave=False):
        net.train()
        total, count = 0.0, 0
        for idx in _batches(len(y), cfg.batch_size, rng):
            xb = X[idx]
            if augment is not None:
                xb = np.asarray(augment(xb, rng), dtype=np.float32)
            xb = torch.from_numpy(prepare(xb)).to(device)
            yb = torch.from_numpy(y[idx]).to(device)
            loss = loss_fn(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        sched.step()
        history.train_loss.append(total / max(count, 1))

        if not has_val:
            history.best_epoch = epoch
            continue
        logits = predict_logits(net, X_val, prepare=prepare, device=device)
        val_loss = loss_fn(logits.to(device), torch.from_numpy(y_val).to(device)).item()
        history.val_loss.append(val_loss)
        history.val_accuracy.append(float((logits.argmax(1).numpy() == y_val).mean()))
        if val_loss < best_loss:
            best_loss, stale, history.best_epoch = val_loss, 0, epoch
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if cfg.patience is not None and stale >= cfg.patience:
                log.debug("early stop at epoch %d (best %d)", epoch, history.best_epoch)
                break

    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return history


@torch.no_grad()
def predict_logits(
    net: nn.Module,
    X: np.ndarray,
    *,
    prepare: Callable[[np.ndarray], np.ndarray],
    device: torch.device,
    batch_size: int = 512,
    head: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run ``net`` (or ``head(net, x)``) in eval mode over ``X`` in batches; CPU tensor out.

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> X = np.zeros((10, 1, 4), dtype=np.float32)
    >>> predict_logits(net, X, prepare=lambda a: a, device=torch.device("cpu"), batch_size=4).shape
    torch.Size([10, 3])
    """
    was_training = net.training
    net.eval()
    outs = []
    for start in range(0, len(X), batch_size):
        xb = torch.from_numpy(prepare(X[start : start + batch_size])).to(device)
        outs.append((net(xb) if head is None else head(net, xb)).float().cpu())
    net.train(was_training)
    if not outs:
        return torch.empty(0)
    return torch.cat(outs)


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    # A batch of one breaks BatchNorm in training mode; fold a lone last window into the
    # previous batch instead of dropping it.
    order = rng.permutation(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = np.concatenate([batches[-2], batches.pop()])
    return batches

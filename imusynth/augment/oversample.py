"""Rebalancing by augmentation: top classes up with augmented copies of real samples."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from imusynth.augment.base import check_batch
from imusynth.errors import ConfigError, DataError

__all__ = ["augment_to_counts"]


def augment_to_counts(
    X: np.ndarray,
    y: np.ndarray,
    target_counts: Mapping[int, int],
    augmenter: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    rng: np.random.Generator,
    *,
    return_indices: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add augmented windows until each class reaches its target count.

    For each class whose target exceeds its count, real samples of that class are drawn
    uniformly with replacement and passed through ``augmenter``; the results are appended
    after all real rows, which are kept unchanged and in order. Classes absent from
    ``target_counts`` are left as they are.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
        Windows ``(N, C, T)`` or images ``(N, 1, H, W)``.
    y : ndarray of shape (N,)
        Integer class codes.
    target_counts : mapping of class code to int
        Wanted number of samples per class after oversampling; never below the current count.
    augmenter : callable ``(X, rng) -> X``
        For example a :class:`~imusynth.augment.Compose` of time-series augmenters.
    rng : numpy.random.Generator
    return_indices : bool
        Also return, for every output row, the index of the real row it comes from, so that
        callers can carry groups (subject ids) over to the new rows.

    Returns
    -------
    X_new : ndarray of shape (N + n_added, ...), float32
    y_new : ndarray of shape (N + n_added,), int64
    source : ndarray of shape (N + n_added,), int64
        Only when ``return_indices`` is true; ``source[:N] == arange(N)``.

    Examples
    --------
    >>> from imusynth.augment import Jitter
    >>> X = np.zeros((5, 6, 20), dtype=np.float32)
    >>> y = np.array([0, 0, 0, 1, 1])
    >>> Xn, yn = augment_to_counts(X, y, {1: 4}, Jitter(0.1), np.random.default_rng(0))
    >>> Xn.shape, np.bincount(yn).tolist()
    ((7, 6, 20), [3, 4])
    """
    X = check_batch(X)
    y = np.asarray(y)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"y must be {len(X)} integer class codes, got shape {y.shape} dtype {y.dtype}",
            field="y",
        )
    y = y.astype(np.int64)
    new_x, new_y, new_src = [X], [y], [np.arange(len(X), dtype=np.int64)]
    for label in sorted(target_counts):
        target = target_counts[label]
        members = np.flatnonzero(y == label)
        if int(target) != target or target < len(members):
            raise ConfigError(
                f"target {target} for class {label} must be an integer >= its count {len(members)}",
                field="target_counts",
            )
        n_add = int(target) - len(members)
        if n_add == 0:
            continue
        if len(members) == 0:
            raise DataError(f"class {label} has no sample to augment", field="y")
        src = rng.choice(members, size=n_add, replace=True)
        augmented = np.asarray(augmenter(X[src], rng), dtype=np.float32)
        if augmented.shape != X[src].shape:
            raise ConfigError(
                f"augmenter changed the shape {X[src].shape} to {augmented.shape}",
                field="augmenter",
            )
        new_x.append(augmented)
        new_y.append(np.full(n_add, label, dtype=np.int64))
        new_src.append(src.astype(np.int64))
    X_new = np.concatenate(new_x).astype(np.float32, copy=False)
    y_new = np.concatenate(new_y)
    if return_indices:
        return X_new, y_new, np.concatenate(new_src)
    return X_new, y_new

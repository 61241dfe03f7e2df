"""Group-wise splits: a subject (or patient) is never on both sides of a split."""

from __future__ import annotations

import numpy as np

from imusynth.errors import DataError

__all__ = ["check_disjoint", "leave_k_subjects_out", "subject_kfold"]


def subject_kfold(
    groups: np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold by subject: subjects are shuffled with ``seed`` and dealt into ``n_splits`` folds.

    Returns a list of ``(train_idx, test_idx)`` integer index arrays.

    Examples
    --------
    >>> g = np.repeat(["s1", "s2", "s3", "s4"], 3)
    >>> folds = subject_kfold(g, n_splits=2, seed=0)
    >>> [sorted(set(g[te])) for _, te in folds]  # doctest: +SKIP
    [['s2', 's3'], ['s1', 's4']]
    """
    groups = np.asarray(groups)
    subjects = np.unique(groups)
    if not 2 <= n_splits <= len(subjects):
        raise DataError(
            f"need 2 <= n_splits <= number of subjects ({len(subjects)}), got {n_splits}",
            field="n_splits",
        )
    order = np.random.default_rng(seed).permutation(subjects)
    return [_split(groups, fold) for fold in np.array_split(order, n_splits)]


def leave_k_subjects_out(
    groups: np.ndarray, k: int, n_repeats: int = 1, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated random leave-``k``-subjects-out splits (``n_repeats`` of them)."""
    groups = np.asarray(groups)
    subjects = np.unique(groups)
    if not 1 <= k < len(subjects):
        raise DataError(f"need 1 <= k < number of subjects ({len(subjects)})", field="k")
    rng = np.random.default_rng(seed)
    return [_split(groups, rng.choice(subjects, size=k, replace=False)) for _ in range(n_repeats)]


def _split(groups: np.ndarray, test_subjects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    test = np.isin(groups, test_subjects)
    return np.flatnonzero(~test), np.flatnonzero(test)


def check_disjoint(train_groups: np.ndarray, test_groups: np.ndarray) -> None:
    """Raise :class:`DataError` naming the subjects found in both train and test."""
    shared = sorted(set(np.asarray(train_groups).tolist()) & set(np.asarray(test_groups).tolist()))
    if shared:
        raise DataError(
            f"train and test share subject(s) {', '.join(map(str, shared))}", field="groups"
        )

"""Group-wise splits: a subject (or patient) is never on both sides of a split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imusynth.data.windows import WindowSet
from imusynth.errors import DataError

__all__ = ["check_disjoint", "leave_k_subjects_out", "split_by_subject", "subject_kfold"]


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


def split_by_subject(
    ws: WindowSet,
    *,
    n_test: int | None = None,
    fraction: float | None = None,
    test_groups: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[WindowSet, WindowSet]:
    """Split windows into subject-disjoint train and test sets, every class on both sides.

    Give exactly one of ``n_test``, ``fraction`` or ``test_groups``. Chosen test subjects
    are drawn with ``seed`` (the same seed gives the same split) so that each class in
    ``ws`` is recorded by at least one subject on each side: a test set without a class
    cannot score it, and a training set without it cannot learn it.

    Parameters
    ----------
    ws : WindowSet
        Windows with their subjects in ``ws.groups``.
    n_test : int, optional
        Number of test subjects, ``1 <= n_test < number of subjects``.
    fraction : float, optional
        Share of the subjects to test on, in ``(0, 1)``; rounded to a whole number of
        subjects, at least one on each side.
    test_groups : sequence of str, optional
        The test subjects, named; they are checked, not drawn.
    seed : int
        Seed of the draw.

    Returns
    -------
    train, test : WindowSet
        Row subsets of ``ws``, in their original order.

    Raises
    ------
    DataError
        A bad count or fraction, an unknown subject, synthetic rows, or a class that cannot
        be put on both sides (the message names the class); ``field`` is the offending
        parameter.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    >>> ws = WindowSet(np.zeros((8, 1, 4), np.float32), y,
    ...                np.repeat(["s1", "s2", "s3", "s4"], 2), ("ABD", "FEL"), ("ax",), ("g",),
    ...                50.0)
    >>> train, test = split_by_subject(ws, n_test=1, seed=0)
    >>> check_disjoint(train.groups, test.groups)
    >>> len(set(test.groups)), test.class_counts()
    (1, {'ABD': 1, 'FEL': 1})
    >>> split_by_subject(ws, test_groups=["s4"])
    Traceback (most recent call last):
    ...
    imusynth.errors.DataError: test_groups: class 'FEL' would not be in the test subjects (s4)
    """
    given = [
        name
        for name, v in (("n_test", n_test), ("fraction", fraction), ("test_groups", test_groups))
        if v is not None
    ]
    if len(given) != 1:
        raise DataError(
            "give exactly one of n_test, fraction or test_groups",
            field=given[-1] if given else "n_test",
        )
    n_synthetic = int(np.sum(ws.is_synthetic))
    if n_synthetic:  # their group is not a subject: split real windows, then generate
        raise DataError(
            f"{n_synthetic} synthetic rows; split the real windows before adding synthetic ones",
            field="is_synthetic",
        )
    groups = np.asarray(ws.groups).astype(str)
    subjects = np.array(sorted(set(groups.tolist()), key=lambda s: (len(s), s)))
    n = len(subjects)
    if n < 2:
        raise DataError(f"need at least 2 subjects to split, found {n}", field="groups")
    holders = {c: sorted(set(groups[ws.y == i].tolist())) for i, c in enumerate(ws.classes)}
    holders = {c: s for c, s in holders.items() if s}  # classes absent from the data: no claim
    if test_groups is not None:
        test = _named(subjects, test_groups)
        _check_sides(holders, set(test), "test_groups")
    else:
        if fraction is not None:
            if not 0.0 < fraction < 1.0:
                raise DataError(f"must be between 0 and 1, got {fraction}", field="fraction")
            k, field = min(max(round(fraction * n), 1), n - 1), "fraction"
        else:
            k, field = int(n_test or 0), "n_test"
        if not 1 <= k < n:
            raise DataError(f"need 1 <= n_test < number of subjects ({n}), got {k}", field=field)
        for c, who in holders.items():
            if len(who) < 2:
                raise DataError(
                    f"class {c!r} is recorded by one subject only ({who[0]}); it cannot be on "
                    "both sides of a subject-wise split",
                    field=field,
                )
        test = _draw(subjects, holders, k, np.random.default_rng(seed), field)
    in_test = np.isin(groups, test)
    return ws.subset(~in_test), ws.subset(in_test)


def _named(subjects: np.ndarray, test_groups: Sequence[str]) -> list[str]:
    test = list(dict.fromkeys(str(g).strip() for g in test_groups if str(g).strip()))
    unknown = [g for g in test if g not in set(subjects.tolist())]
    if unknown:
        raise DataError(
            f"unknown subject(s) {', '.join(unknown)} (subjects: {', '.join(subjects)})",
            field="test_groups",
        )
    if not 1 <= len(test) < len(subjects):
        raise DataError(
            f"name between 1 and {len(subjects) - 1} of the {len(subjects)} subjects",
            field="test_groups",
        )
    return test


def _missing(holders: dict[str, list[str]], test: set[str]) -> tuple[str, str] | None:
    """The first class missing from one side, and that side's name, or ``None``."""
    for c, who in holders.items():
        if not test.intersection(who):
            return c, "test"
        if test.issuperset(who):
            return c, "train"
    return None


def _check_sides(holders: dict[str, list[str]], test: set[str], field: str) -> None:
    miss = _missing(holders, test)
    if miss is not None:
        c, side = miss
        raise DataError(
            f"class {c!r} would not be in the {side} subjects ({', '.join(sorted(test))})"
            if side == "test"
            else f"class {c!r} would only be in the test subjects ({', '.join(holders[c])})",
            field=field,
        )


# Random restarts of the greedy draw: enough for studies of tens of subjects, where a
# stratified choice, when one exists, is found within a few tries.
_TRIES = 500


def _draw(
    subjects: np.ndarray,
    holders: dict[str, list[str]],
    k: int,
    rng: np.random.Generator,
    field: str,
) -> list[str]:
    """``k`` test subjects, drawn so that every class has a subject on each side."""
    of = {s: {c for c, who in holders.items() if s in who} for s in subjects.tolist()}
    failures: dict[str, int] = {}
    for _ in range(_TRIES):
        order = rng.permutation(subjects).tolist()
        test: list[str] = []
        covered: set[str] = set()
        # First the subjects that bring a class the test side lacks, keeping one holder of
        # every class on the training side; then the rest in drawn order.
        for s in order:
            if len(test) == k:
                break
            spare = all(len(set(holders[c]) - set(test) - {s}) > 0 for c in of[s])
            if of[s] - covered and spare:
                test.append(s)
                covered |= of[s]
        test += [s for s in order if s not in test][: k - len(test)]
        miss = _missing(holders, set(test))
        if miss is None:
            return test
        failures[miss[0]] = failures.get(miss[0], 0) + 1
    worst = max(failures, key=lambda c: failures[c])
    raise DataError(
        f"no choice of {k} test subject(s) puts class {worst!r} on both sides "
        f"(recorded by {', '.join(holders[worst])}); choose another number or name them",
        field=field,
    )

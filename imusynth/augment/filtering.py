"""Keep the synthetic samples that a classifier fitted on real data recognises.

A generator trained on a handful of windows of a rare class makes some windows of that class
that look like another class; added to a training set they teach the wrong boundary. Drawing
more candidates than needed and keeping, for each class, those that a classifier fitted on
the real training samples gives the highest probability of that class is a common remedy
(a classifier-based filter). Fit the judge on the training fold only: it sees what the
classifier under test will see, never its test subjects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imusynth.errors import DataError

__all__ = ["select_recognised"]


def select_recognised(
    X: np.ndarray, y: np.ndarray, n_per_class: dict[int, int], judge: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Of candidate samples ``X`` labelled ``y``, keep ``n_per_class[c]`` of each class ``c``:
    those to which ``judge`` gives the highest probability of ``c``.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
        Candidates (synthetic windows or images).
    y : ndarray of shape (N,)
        Their class codes, as the judge's ``classes_`` name them.
    n_per_class : dict
        How many to keep of each class; a class needs at least that many candidates.
    judge : classifier
        Fitted, with ``predict_proba`` and ``classes_`` (scikit-learn style).

    Returns
    -------
    X_kept, y_kept : ndarray
        Class by class, in the order of ``n_per_class``, best first within a class.

    Examples
    --------
    >>> class Judge:  # calls a sample class 1 the more its mean exceeds 0
    ...     classes_ = np.array([0, 1])
    ...     def predict_proba(self, X):
    ...         p = 1 / (1 + np.exp(-X.mean(axis=1)))
    ...         return np.stack([1 - p, p], axis=1)
    >>> X = np.array([[-2.0], [1.0], [3.0], [-1.0], [0.5], [2.0]])
    >>> y = np.array([1, 1, 1, 0, 0, 0])
    >>> Xk, yk = select_recognised(X, y, {0: 1, 1: 2}, Judge())
    >>> Xk.ravel().tolist(), yk.tolist()
    ([-1.0, 3.0, 1.0], [0, 1, 1])
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise DataError(f"{len(X)} candidates but {len(y)} labels", field="y")
    columns = {c: k for k, c in enumerate(np.asarray(judge.classes_).tolist())}
    missing = [c for c in n_per_class if n_per_class[c] > 0 and c not in columns]
    if missing:
        raise DataError(f"the judge knows no class {missing[0]!r}", field="judge")
    proba = judge.predict_proba(X) if len(X) else np.zeros((0, len(columns)))
    keep = []
    for c, n in n_per_class.items():
        if n <= 0:
            continue
        idx = np.flatnonzero(y == c)
        if len(idx) < n:
            raise DataError(f"class {c!r}: {len(idx)} candidates for {n} to keep", field="X")
        order = np.argsort(-proba[idx, columns[c]], kind="stable")
        keep.append(idx[order[:n]])
    kept = np.concatenate(keep) if keep else np.array([], dtype=np.int64)
    return X[kept], y[kept]

"""Classification scores, and TSTR / TRTS against TRTR (Esteban et al. 2017).

Sensitivity and specificity are one-vs-rest per class, as in Table V of Frid-Adar et al.
2018. Undefined ratios (a class absent from the test set) are reported as None, so the
reports stay valid JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from imusynth.errors import DataError

__all__ = ["classification_metrics", "mean_interval", "sensitivity_specificity", "tstr_trts"]


def sensitivity_specificity(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest sensitivity (recall) and specificity per class of a confusion matrix.

    ``cm[i, j]`` counts windows of true class i predicted as j. A ratio whose denominator is
    zero is NaN.

    Examples
    --------
    >>> cm = np.array([[8, 2], [1, 9]])
    >>> sens, spec = sensitivity_specificity(cm)
    >>> sens.tolist(), spec.tolist()
    ([0.8, 0.9], [0.9, 0.8])
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise DataError(f"confusion matrix must be square, got shape {cm.shape}", field="cm")
    tp = np.diag(cm)
    fn = cm.sum(1) - tp
    fp = cm.sum(0) - tp
    tn = cm.sum() - tp - fn - fp
    return _ratio(tp, tp + fn), _ratio(tn, tn + fp)


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    labels: Sequence | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1, per-class sensitivity/specificity, confusion.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N,)
    labels : sequence, optional
        Label values, in the order of the confusion matrix; default: the sorted union.
    class_names : sequence of str, optional
        Names for ``labels`` used as keys of the per-class entries; default ``str(label)``.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean sensitivity over classes present in
        ``y_true``), ``macro_f1`` (over ``labels``), ``sensitivity`` and ``specificity``
        (dicts class name -> float or None), ``confusion_matrix`` (list of lists, rows true),
        ``labels`` (class names) and ``n``.

    Examples
    --------
    >>> r = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                            class_names=["a", "b"])
    >>> r["accuracy"], r["sensitivity"]["a"], r["specificity"]["a"]
    (0.75, 0.5, 1.0)
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise DataError(
            f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal non-empty 1-D",
            field="y",
        )
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    names = [str(lab) for lab in labels] if class_names is None else [str(n) for n in class_names]
    if len(names) != len(labels):
        raise DataError(f"{len(names)} class names for {len(labels)} labels", field="class_names")
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    sens, spec = sensitivity_specificity(cm)
    present = cm.sum(1) > 0
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(np.mean(sens[present])),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "sensitivity": dict(zip(names, _nan_to_none(sens), strict=True)),
        "specificity": dict(zip(names, _nan_to_none(spec), strict=True)),
        "confusion_matrix": cm.tolist(),
        "labels": names,
    }


def tstr_trts(
    make_classifier: Callable[[], Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_synth: np.ndarray,
    y_synth: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    groups_train: np.ndarray | None = None,
    real_model: Any | None = None,
    labels: Sequence | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """TRTR, TSTR and TRTS reports with one classifier factory and one real test set.

    - TRTR: train on real train, test on real test (the reference).
    - TSTR: train on synthetic, test on the same real test set (is the synthetic data useful?).
    - TRTS: the TRTR model tested on the synthetic set (do synthetic windows look like their
      class to a model of real data?).

    Parameters
    ----------
    make_classifier : callable
        ``make_classifier()`` returns a fresh, unfitted estimator with ``fit(X, y, groups=...)``
        and ``predict``; the same factory makes both models.
    X_train, y_train, X_synth, y_synth, X_test, y_test : ndarray
    groups_train : ndarray, optional
        Subject ids of the real training windows (for early stopping by subject).
    real_model : estimator, optional
        A model already fitted on the real training set, used instead of fitting one.
    labels, class_names : sequence, optional
        See :func:`classification_metrics`; default: the sorted union of all labels.

    Returns
    -------
    dict
        ``{"trtr": report, "tstr": report, "trts": report}``.

    Examples
    --------
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> class Knn(KNeighborsClassifier):
    ...     def fit(self, X, y, groups=None):
    ...         return super().fit(X.reshape(len(X), -1), y)
    ...     def predict(self, X):
    ...         return super().predict(X.reshape(len(X), -1))
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = (rng.normal(size=(40, 1, 8)) + 3 * y[:, None, None]).astype(np.float32)
    >>> r = tstr_trts(lambda: Knn(1), X, y, X, y, X, y)
    >>> r["trtr"]["accuracy"], r["tstr"]["accuracy"], r["trts"]["accuracy"]
    (1.0, 1.0, 1.0)
    """
    if labels is None:
        labels = np.unique(np.concatenate([y_train, y_synth, y_test]))
    if real_model is None:
        real_model = _fit(make_classifier(), X_train, y_train, groups_train)
    synth_model = _fit(make_classifier(), X_synth, y_synth, None)

    def report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
        return classification_metrics(y_true, y_pred, labels=labels, class_names=class_names)

    return {
        "trtr": report(y_test, real_model.predict(X_test)),
        "tstr": report(y_test, synth_model.predict(X_test)),
        "trts": report(y_synth, real_model.predict(X_synth)),
    }


def _fit(model: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> Any:
    if groups is None:
        return model.fit(X, y)
    return model.fit(X, y, groups=groups)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def mean_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean of ``d`` (at least two values), e.g. of the paired
    differences between two arms over folds.

    Examples
    --------
    >>> lo, hi = mean_interval(np.array([0.1, 0.2, 0.3]))
    >>> round(lo, 3), round(hi, 3)
    (-0.048, 0.448)
    """
    from scipy import stats

    half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)

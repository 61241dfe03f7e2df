"""Metrics of classifiers and of synthetic data: plain functions, arrays in, floats out."""

from imusynth.metrics.classification import (
    classification_metrics,
    sensitivity_specificity,
    tstr_trts,
)
from imusynth.metrics.fidelity import (
    autocorrelation_distance,
    classifier_frechet_distance,
    discriminative_score,
    diversity_ratio,
    frechet_distance,
    mmd_rbf,
    per_class,
    psd_distance,
)
from imusynth.metrics.kinematic import kinematic_plausibility

__all__ = [
    "autocorrelation_distance",
    "classification_metrics",
    "classifier_frechet_distance",
    "discriminative_score",
    "diversity_ratio",
    "frechet_distance",
    "kinematic_plausibility",
    "mmd_rbf",
    "per_class",
    "psd_distance",
    "sensitivity_specificity",
    "tstr_trts",
]

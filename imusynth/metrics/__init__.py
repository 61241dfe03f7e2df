"""Metrics of classifiers and of synthetic data: plain functions, arrays in, floats out."""

from imusynth.metrics.classification import (
    classification_metrics,
    mean_interval,
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
from imusynth.metrics.judges import (
    JudgeScore,
    heldout_discriminative_floor,
    heldout_discriminative_score,
    judge_features,
)
from imusynth.metrics.kinematic import kinematic_plausibility
from imusynth.metrics.timegan import timegan_discriminative_score, timegan_predictive_score

__all__ = [
    "JudgeScore",
    "autocorrelation_distance",
    "classification_metrics",
    "classifier_frechet_distance",
    "discriminative_score",
    "diversity_ratio",
    "frechet_distance",
    "heldout_discriminative_floor",
    "heldout_discriminative_score",
    "judge_features",
    "kinematic_plausibility",
    "mean_interval",
    "mmd_rbf",
    "per_class",
    "psd_distance",
    "sensitivity_specificity",
    "timegan_discriminative_score",
    "timegan_predictive_score",
    "tstr_trts",
]

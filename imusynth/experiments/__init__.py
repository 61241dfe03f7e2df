"""Experiments: augmentation and rebalancing grids under subject-wise cross-validation.

The same grid serves windows ``(N, C, T)`` and images ``(N, 1, H, W)`` (the liver-lesion
study of Frid-Adar et al. 2018, ``experiments/ct_augmentation.toml``): only the data the
config names, the classical augmenter (time-series or image) and the generators differ.

- :mod:`~imusynth.experiments.config`: :class:`ExperimentConfig` and :func:`load_experiment`;
- :mod:`~imusynth.experiments.grid`: folds, units, cells, the resumable ``results.csv``;
- :mod:`~imusynth.experiments.arms`: the registry of arms (a new arm is one function,
  registered with :func:`arm`);
- :mod:`~imusynth.experiments.backends`: joblib, Dask and Ray;
- :mod:`~imusynth.experiments.run`: :func:`run_experiment`;
- :mod:`~imusynth.experiments.report`: :func:`summarise`, its tables and figures.

Examples
--------
>>> from imusynth.experiments import load_experiment
>>> cfg = load_experiment("experiments/watch_rebalancing.toml", quick=True)  # doctest: +SKIP
>>> results = run_experiment(cfg, "results/quick")  # doctest: +SKIP
>>> summarise(results, "results/quick")  # doctest: +SKIP
"""

from imusynth.augment.recipes import classical_augmenter, image_augmenter
from imusynth.experiments.arms import ARMS, arm
from imusynth.experiments.config import ExperimentConfig, load_experiment, load_saved_config
from imusynth.experiments.grid import Wording, iter_rows
from imusynth.experiments.report import (
    confusion_matrix_of,
    sensitivity_specificity_tables,
    summarise,
)
from imusynth.experiments.run import run_experiment

__all__ = [
    "ARMS",
    "ExperimentConfig",
    "Wording",
    "arm",
    "classical_augmenter",
    "confusion_matrix_of",
    "image_augmenter",
    "iter_rows",
    "load_experiment",
    "load_saved_config",
    "run_experiment",
    "sensitivity_specificity_tables",
    "summarise",
]

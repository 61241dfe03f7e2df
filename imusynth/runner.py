"""Old home of the experiment runner, kept for one release: use :mod:`imusynth.experiments`.

Re-exports the public names that ``imusynth.runner`` had; the code lives in
:mod:`imusynth.experiments` (config, grid, arms, backends, run, report),
:mod:`imusynth.augment.recipes` (the augmentation recipes) and
:mod:`imusynth.metrics.classification` (sensitivity and specificity).
"""

from imusynth.augment.recipes import classical_augmenter, image_augmenter
from imusynth.experiments.config import (
    AUG_ARMS,
    CONFIG_INFO,
    DATA_INFO,
    GAN_SNAPSHOT,
    KINDS,
    REB_ARMS,
    WINDOW_GENERATORS,
    ExperimentConfig,
    load_experiment,
    load_saved_config,
)
from imusynth.experiments.grid import Unit, Wording, iter_rows
from imusynth.experiments.report import (
    METRICS,
    confusion_matrix_of,
    sensitivity_specificity_tables,
    summarise,
)
from imusynth.experiments.run import run_experiment
from imusynth.metrics.classification import sensitivity_specificity

__all__ = [
    "AUG_ARMS",
    "CONFIG_INFO",
    "DATA_INFO",
    "GAN_SNAPSHOT",
    "KINDS",
    "METRICS",
    "REB_ARMS",
    "WINDOW_GENERATORS",
    "ExperimentConfig",
    "Unit",
    "Wording",
    "classical_augmenter",
    "confusion_matrix_of",
    "image_augmenter",
    "iter_rows",
    "load_experiment",
    "load_saved_config",
    "run_experiment",
    "sensitivity_specificity",
    "sensitivity_specificity_tables",
    "summarise",
]

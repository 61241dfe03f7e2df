"""Old home of the experiment runner, kept for one release: use :mod:`imusynth.experiments`.

Re-exports the public names that ``imusynth.runner`` had (and those of
:mod:`imusynth.experiments`); the code lives in :mod:`imusynth.experiments` (config, grid,
arms, backends, run, report), :mod:`imusynth.augment.recipes` (the augmentation recipes)
and :mod:`imusynth.metrics.classification` (sensitivity and specificity).
"""

from imusynth import experiments
from imusynth.experiments import *  # noqa: F403 - the alias re-exports the package's names
from imusynth.experiments.config import (
    AUG_ARMS,
    CONFIG_INFO,
    DATA_INFO,
    GAN_SNAPSHOT,
    KINDS,
    REB_ARMS,
    WINDOW_GENERATORS,
)
from imusynth.experiments.grid import Unit
from imusynth.experiments.report import METRICS
from imusynth.metrics.classification import sensitivity_specificity

__all__ = [
    *experiments.__all__,
    "AUG_ARMS",
    "CONFIG_INFO",
    "DATA_INFO",
    "GAN_SNAPSHOT",
    "KINDS",
    "METRICS",
    "REB_ARMS",
    "WINDOW_GENERATORS",
    "Unit",
    "sensitivity_specificity",
]

"""Conditional GANs of sensor windows and of 64x64 images: one run API for both.

* Run folders, what the CLI wraps: :func:`train_run` (``imusynth train``), :func:`load_run`
  and :func:`sample` (``imusynth sample``), :func:`balance` (``imusynth balance``). The
  modality (windows or images) is decided once, from the data when training and from the
  run folder when loading, and the run carries it (``run.modality``).
* Estimators on arrays, scikit-learn style: :class:`ConditionalGAN` (windows ``(N, C, T)``,
  which must come with their sampling rate and units, or a WindowSet) and :class:`ImageGAN`
  (images ``(N, 1, 64, 64)``); :func:`balance` also takes arrays and a fitted estimator.
* :class:`CGANOverSampler`, an imbalanced-learn over-sampler that trains a
  :class:`ConditionalGAN` inside each fit.

The estimators and the over-sampler are imported on first use, so the run API (what the
command line loads) stays free of scikit-learn and imbalanced-learn.

Modules: :mod:`~imusynth.gan.api` (the run API), :mod:`~imusynth.gan.estimators`,
:mod:`~imusynth.gan.oversampler`, :mod:`~imusynth.gan.windows` and
:mod:`~imusynth.gan.images` (the two modalities), :mod:`~imusynth.gan.modality` (what they
implement), :mod:`~imusynth.gan.runs` (run folder files, class counts, checks),
:mod:`~imusynth.gan.checks` (can a generator model the data), :mod:`~imusynth.gan.arrays`
(what bare arrays must say) and :mod:`~imusynth.gan.residual` (the kinematic generator's
residual share).

The names of the former ``imusynth.gan`` and ``imusynth.gan2d`` modules stay importable
from here: ``sample_windows`` and ``sample_images`` are :func:`sample`, ``balance_windows``
and ``balance_images`` :func:`balance` of a set, ``train_image_run`` and ``load_image_run``
the image-only :func:`train_run` and :func:`load_run`.
"""

import importlib
from typing import Any

from imusynth.gan import api
from imusynth.gan.api import *  # noqa: F403 - the run API is the package's
from imusynth.gan.images import IMAGES, ImageGANRun, class_batch_loader
from imusynth.gan.runs import CONFIG_NAME, META_NAME, SYNTHETIC_GROUP
from imusynth.gan.windows import (
    SIDES,
    WINDOWS,
    GANRun,
    fast_variation,
    load_training_windows,
)

# Lazy (PEP 562): name -> module. The estimators need scikit-learn and the over-sampler
# imbalanced-learn; the run API needs neither.
_LAZY = {
    "ConditionalGAN": "imusynth.gan.estimators",
    "ImageGAN": "imusynth.gan.estimators",
    "NotFittedError": "imusynth.gan.estimators",
    "CGANOverSampler": "imusynth.gan.oversampler",
}

__all__ = [
    *api.__all__,
    *_LAZY,
    "CONFIG_NAME",
    "IMAGES",
    "META_NAME",
    "SIDES",
    "SYNTHETIC_GROUP",
    "WINDOWS",
    "GANRun",
    "ImageGANRun",
    "class_batch_loader",
    "fast_variation",
    "load_training_windows",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

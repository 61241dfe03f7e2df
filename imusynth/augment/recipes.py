"""The augmentation recipes of the experiments: which classical augmenters, in which order.

:func:`classical_augmenter` is the time-series recipe of Um et al. 2017 for windows
``(N, C, T)``; :func:`image_augmenter` the classic image recipe of Frid-Adar et al. 2018 for
ROIs ``(N, 1, H, W)``; :func:`augmenter_for` picks one by the data's layout. ``params`` are
the ``[augment]`` table of an experiment config; a step whose parameter is 0 is left out.
"""

from __future__ import annotations

from collections.abc import Callable

from imusynth.augment.base import Compose
from imusynth.augment.images import Flip, ImageRotation, ImageScaling, Translation
from imusynth.augment.timeseries import Jitter, MagnitudeWarp, Rotation, Scaling, TimeWarp

__all__ = ["AUGMENT_KEYS", "augmenter_for", "classical_augmenter", "image_augmenter"]

# The parameters the recipes read (an experiment's ``[augment]`` keys).
AUGMENT_KEYS = (
    "jitter",
    "scaling",
    "magnitude_warp",
    "time_warp",
    "rotation_deg",
    "flip",
    "shift_px",
    "zoom",
)


def classical_augmenter(params: dict[str, float]) -> Callable:
    """The classical time-series augmentation used by the experiments (Um et al. 2017).

    Examples
    --------
    >>> aug = classical_augmenter({"rotation_deg": 0, "time_warp": 0})
    >>> [type(step).__name__ for step in aug.augmenters]
    ['MagnitudeWarp', 'Scaling', 'Jitter']
    """
    steps = []
    if params.get("rotation_deg", 15.0) > 0:
        steps.append(Rotation(max_angle_deg=params.get("rotation_deg", 15.0)))
    if params.get("time_warp", 0.2) > 0:
        steps.append(TimeWarp(sigma=params.get("time_warp", 0.2)))
    if params.get("magnitude_warp", 0.1) > 0:
        steps.append(MagnitudeWarp(sigma=params.get("magnitude_warp", 0.1)))
    if params.get("scaling", 0.1) > 0:
        steps.append(Scaling(sigma=params.get("scaling", 0.1)))
    if params.get("jitter", 0.02) > 0:
        steps.append(Jitter(sigma=params.get("jitter", 0.02)))
    return Compose(steps)


def image_augmenter(params: dict[str, float]) -> Callable:
    """The classic image augmentation of Frid-Adar et al. 2018: flips, rotation, translation
    and scaling, each new ROI drawing all four (``flip`` probability per axis, ``rotation_deg``
    largest angle, ``shift_px`` largest shift, ``zoom``: scale factors in
    ``[1 / (1 + zoom), 1 + zoom]``)."""
    steps = []
    if params.get("flip", 0.5) > 0:
        steps.append(Flip(params.get("flip", 0.5), params.get("flip", 0.5)))
    if params.get("rotation_deg", 180.0) > 0:
        steps.append(ImageRotation(params.get("rotation_deg", 180.0)))
    if params.get("shift_px", 4) > 0:
        steps.append(Translation(int(params.get("shift_px", 4))))
    if params.get("zoom", 0.1) > 0:
        zoom = 1.0 + params.get("zoom", 0.1)
        steps.append(ImageScaling(1.0 / zoom, zoom))
    return Compose(steps)


def augmenter_for(params: dict[str, float], ndim: int) -> Callable:
    """The recipe for data of ``ndim`` dimensions: images ``(N, 1, H, W)`` or windows."""
    return image_augmenter(params) if ndim == 4 else classical_augmenter(params)

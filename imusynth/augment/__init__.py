"""Classical augmenters for windows (N, C, T) and images (N, 1, H, W), and rebalancing by
augmentation. Every augmenter is called as ``aug(X, rng)`` with a numpy Generator."""

from imusynth.augment.base import Augmenter, Compose, OneOf, RandomApply
from imusynth.augment.images import Flip, ImageRotation, ImageScaling, Translation
from imusynth.augment.kinematic import KinematicAugmenter
from imusynth.augment.oversample import augment_to_counts
from imusynth.augment.timeseries import (
    Jitter,
    MagnitudeWarp,
    Permutation,
    Rotation,
    Scaling,
    TimeWarp,
    WindowSlice,
    random_rotation_matrices,
    time_warp_paths,
)

__all__ = [
    "Augmenter",
    "Compose",
    "Flip",
    "ImageRotation",
    "ImageScaling",
    "Jitter",
    "KinematicAugmenter",
    "MagnitudeWarp",
    "OneOf",
    "Permutation",
    "RandomApply",
    "Rotation",
    "Scaling",
    "TimeWarp",
    "Translation",
    "WindowSlice",
    "augment_to_counts",
    "random_rotation_matrices",
    "time_warp_paths",
]

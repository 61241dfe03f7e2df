"""Conditional GANs of sensor windows and of 64x64 images: train, save, load, sample, balance."""

from imusynth.gan.images import (
    ImageGAN,
    ImageGANRun,
    balance_images,
    class_batch_loader,
    is_image_run,
    load_image_run,
    sample_image_arrays,
    sample_images,
    train_image_run,
)
from imusynth.gan.runs import CONFIG_NAME, META_NAME, SYNTHETIC_GROUP
from imusynth.gan.windows import (
    SIDES,
    ConditionalGAN,
    GANRun,
    balance,
    balance_windows,
    fast_variation,
    load_run,
    load_training_windows,
    sample_run,
    sample_windows,
    train_run,
)

__all__ = [
    "CONFIG_NAME",
    "META_NAME",
    "SIDES",
    "SYNTHETIC_GROUP",
    "ConditionalGAN",
    "GANRun",
    "ImageGAN",
    "ImageGANRun",
    "balance",
    "balance_images",
    "balance_windows",
    "class_batch_loader",
    "fast_variation",
    "is_image_run",
    "load_image_run",
    "load_run",
    "load_training_windows",
    "sample_image_arrays",
    "sample_images",
    "sample_run",
    "sample_windows",
    "train_image_run",
    "train_run",
]

"""Former home of the image GAN; its names now live in :mod:`imusynth.gan`.

Kept for one release so that ``from imusynth.gan2d import ImageGAN`` keeps working.
"""

from imusynth.gan import (
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
from imusynth.gan.images import IMAGE_SIZE, MODALITY

__all__ = [
    "IMAGE_SIZE",
    "MODALITY",
    "ImageGAN",
    "ImageGANRun",
    "balance_images",
    "class_batch_loader",
    "is_image_run",
    "load_image_run",
    "sample_image_arrays",
    "sample_images",
    "train_image_run",
]

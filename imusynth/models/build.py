"""Deprecated alias of :mod:`imusynth.train.build`, kept for one release.

Building networks from a config belongs to the trainer (floor 3), above ``models``; the
names are looked up lazily, with a :class:`DeprecationWarning`, so importing
``imusynth.models`` never pulls in ``imusynth.train``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__ = ["build_discriminator", "build_generator", "build_image_gan"]  # noqa: F822 (lazy)


def __getattr__(name: str) -> Any:
    if name in __all__:
        warnings.warn(
            f"imusynth.models.build.{name} moved to imusynth.train.build.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("imusynth.train.build"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

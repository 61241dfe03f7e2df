"""Deprecated alias of :mod:`imusynth.train.build`, kept for one release.

Building networks from a config belongs to the trainer (floor 3), above ``models``; the
names are looked up lazily, with a :class:`DeprecationWarning`, so importing
``imusynth.models`` never pulls in ``imusynth.train``.
"""

from __future__ import annotations

from imusynth._alias import MOVED, lazy_alias

__all__ = ["build_discriminator", "build_generator", "build_image_gan"]  # noqa: F822 (lazy)

__getattr__, __dir__ = lazy_alias(__name__, "imusynth.train.build", names=__all__, message=MOVED)

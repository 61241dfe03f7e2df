"""Deprecated alias of :mod:`imusynth.runtime` (devices, threads, seeds); kept for one release."""

from imusynth import runtime
from imusynth.runtime import *  # noqa: F403 - the alias re-exports runtime's public names

__all__ = runtime.__all__

"""Former home of :class:`~imusynth.gan.oversampler.CGANOverSampler` (deprecated path).

The over-sampler trains a GAN, and augment/ sits below the GAN package, so it moved to
:mod:`imusynth.gan.oversampler`. This module resolves its old names lazily, with a
:class:`DeprecationWarning`, for one release; import ``imusynth.CGANOverSampler`` or
``imusynth.gan.oversampler.CGANOverSampler`` instead.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__ = ["CGANOverSampler"]  # noqa: F822 (resolved lazily by __getattr__)

_NEW_HOME = "imusynth.gan.oversampler"


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_NEW_HOME)
    try:
        value = getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    warnings.warn(
        f"{__name__}.{name} moved to {_NEW_HOME}.{name}; the old path goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return value

"""Deprecated alias of :mod:`imusynth.evaluation.evaluate` (kept for one release).

``from imusynth.evaluate import evaluate`` still works and warns; import from
:mod:`imusynth.evaluation.evaluate` instead. The names load lazily, on first use, so that
this low module does not import the evaluation floor above it.
"""

from __future__ import annotations

import importlib
import warnings

_NEW = "imusynth.evaluation.evaluate"
_NAMES = (
    "CLASSIFIERS",
    "FIGURES",
    "KINEMATIC_WINDOWS",
    "check_compatible",
    "evaluate",
    "make_classifier",
    "summary_rows",
)
__all__ = list(_NAMES)  # resolved by __getattr__


def __getattr__(name: str):
    if name in _NAMES:
        warnings.warn(
            f"imusynth.evaluate is deprecated; import {name} from {_NEW}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_NEW), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_NAMES))

"""Deprecated alias of :mod:`imusynth.evaluation.turing` (kept for one release).

``from imusynth.turing import make_sheet`` still works and warns; import from
:mod:`imusynth.evaluation.turing` instead. The names (that module's ``__all__``) load
lazily, on first use, so that this low module does not import the evaluation floor above it.
"""

from __future__ import annotations

from imusynth._alias import lazy_alias

__getattr__, __dir__ = lazy_alias(__name__, "imusynth.evaluation.turing")

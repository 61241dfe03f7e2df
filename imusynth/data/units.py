"""Physical units of sensor channels and their conversion to the internal convention.

Inside the package an accelerometer reads in ``"g"`` and a gyroscope in ``"rad/s"``; data in
other units are converted on the way in (:func:`to_internal`) and, where a user asked for
their own units back, on the way out (:func:`from_internal`). Units that are not
accelerations or angular rates (``"uT"``, ``"a.u."``, ``"scaled"``) are never converted.

Examples
--------
>>> canonical_unit("m/s2"), internal_unit("deg/s"), round(unit_factor("g", "m/s^2"), 5)
('m/s^2', 'rad/s', 9.80665)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "ACCELERATION_UNITS",
    "INTERNAL_UNITS",
    "RATE_UNITS",
    "canonical_unit",
    "from_internal",
    "internal_unit",
    "to_internal",
    "unit_factor",
]

STANDARD_GRAVITY = 9.80665  # m/s^2 per g
# Canonical unit -> its value in the internal unit of its kind.
ACCELERATION_UNITS = {"g": 1.0, "m/s^2": 1.0 / STANDARD_GRAVITY, "mg": 1e-3}
RATE_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}
OTHER_UNITS = ("uT", "a.u.", "scaled")
INTERNAL_UNITS = {"acceleration": "g", "rate": "rad/s"}
_ALIASES = {
    "m/s2": "m/s^2",
    "m/s²": "m/s^2",
    "ms^-2": "m/s^2",
    "m s^-2": "m/s^2",
    "dps": "deg/s",
    "°/s": "deg/s",
    "deg s^-1": "deg/s",
    "µT": "uT",
}


def canonical_unit(unit: str) -> str:
    """The canonical spelling of ``unit``; raises ``ValueError`` for an unknown one."""
    name = _ALIASES.get(str(unit).strip(), str(unit).strip())
    if name in ACCELERATION_UNITS or name in RATE_UNITS or name in OTHER_UNITS:
        return name
    known = [*ACCELERATION_UNITS, *RATE_UNITS, *OTHER_UNITS]
    raise ValueError(f"unknown unit {unit!r} (known: {', '.join(known)})")


def internal_unit(unit: str) -> str:
    """``"g"`` for an acceleration unit, ``"rad/s"`` for a rate unit, else ``unit`` itself."""
    name = canonical_unit(unit)
    if name in ACCELERATION_UNITS:
        return INTERNAL_UNITS["acceleration"]
    if name in RATE_UNITS:
        return INTERNAL_UNITS["rate"]
    return name


def unit_factor(from_unit: str, to_unit: str) -> float:
    """The factor that turns values in ``from_unit`` into ``to_unit`` (same kind only)."""
    a, b = canonical_unit(from_unit), canonical_unit(to_unit)
    for table in (ACCELERATION_UNITS, RATE_UNITS):
        if a in table and b in table:
            return table[a] / table[b]
    if a == b:
        return 1.0
    raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")


def to_internal(X: np.ndarray, units: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """``X (N, C, T)`` in ``units`` (one per channel) as float32 in the internal units.

    Examples
    --------
    >>> X, units = to_internal(np.full((1, 2, 3), 9.80665), ("m/s^2", "deg/s"))
    >>> [round(float(v), 4) for v in X[0, :, 0]], units
    ([1.0, 0.1712], ('g', 'rad/s'))
    """
    internal = tuple(internal_unit(u) for u in units)
    return _scaled(X, units, internal), internal


def from_internal(
    X: np.ndarray, internal_units: Sequence[str], target_units: Sequence[str]
) -> np.ndarray:
    """``X (N, C, T)`` in the internal units converted to ``target_units`` (float32)."""
    return _scaled(X, internal_units, target_units)


def _scaled(X: np.ndarray, units: Sequence[str], target: Sequence[str]) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.shape[1] != len(units) or len(units) != len(target):
        raise ValueError(f"{X.shape[1]} channels, {len(units)} units, {len(target)} targets")
    factors = np.array([unit_factor(a, b) for a, b in zip(units, target, strict=True)])
    if np.all(factors == 1.0):
        return X.copy()
    return (X * factors[None, :, None]).astype(np.float32)  # (N, C, T)

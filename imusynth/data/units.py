"""Physical units of IMU channels, and where a sensor is worn.

Inside imusynth an accelerometer reads in **g** and a gyroscope in **rad/s** (the internal
units): the loaders convert a user's data into them, so every generator, augmenter and metric
works in one convention, and a run can write its samples back in the user's units with
:func:`from_internal`. Units spelled in a common way are accepted and normalised to one
spelling (``"m/s2"`` -> ``"m/s^2"``, ``"dps"`` -> ``"deg/s"``):

============  ==========================================  ======================
quantity      units (aliases)                             internal unit
============  ==========================================  ======================
acceleration  ``g``, ``m/s^2`` (``m/s2``, ``m/s²``,       ``g``
              ``ms^-2``, ``m s^-2``), ``mg``
angular rate  ``rad/s`` (``rad s^-1``), ``deg/s``         ``rad/s``
              (``dps``, ``°/s``, ``deg s^-1``)
other         ``uT`` (``µT``), ``a.u.``, ``scaled``       itself (never converted)
============  ==========================================  ======================

One g is the standard gravity, 9.80665 m/s^2 (exact by definition).

Placement: where the sensor is worn, as a dataset spec states it (``[signal] placement``).
:data:`KINEMATIC_PLACEMENTS` are those the arm model can explain; any other lowercase word
(``"hip"``, ``"chest"``) is kept as written, and ``""`` means not stated.

Examples
--------
>>> canonical_unit("m/s2"), internal_unit("dps"), internal_unit("uT")
('m/s^2', 'rad/s', 'uT')
>>> unit_factor("g", "m/s^2")
9.80665
>>> X = np.array([[[19.6133], [90.0]]])  # (N, C, T): one window, two channels
>>> Xi, units = to_internal(X, ("m/s^2", "deg/s"))
>>> Xi.ravel().tolist(), units
([2.0, 1.5707963705062866], ('g', 'rad/s'))
>>> from_internal(Xi, units, ("m/s^2", "deg/s")).ravel().tolist()
[19.613300323486328, 90.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = [
    "ACCELERATION_UNITS",
    "INTERNAL_UNITS",
    "KINEMATIC_PLACEMENTS",
    "KNOWN_UNITS",
    "RATE_UNITS",
    "canonical_unit",
    "from_internal",
    "internal_unit",
    "is_acceleration",
    "placement_name",
    "to_internal",
    "unit_factor",
    "unit_spelling",
]

STANDARD_GRAVITY = Fraction("9.80665")  # m/s^2 in one g (CGPM 1901)

# Each unit's size in the quantity's base unit, exact where it can be (Fraction), so that
# factors such as mg -> g come out as the nearest double (0.001), not off by one ulp.
_ACCELERATION = {"g": STANDARD_GRAVITY, "m/s^2": Fraction(1), "mg": STANDARD_GRAVITY / 1000}
_RATE = {"rad/s": Fraction(1), "deg/s": Fraction(math.pi / 180)}
_OTHER = ("uT", "a.u.", "scaled")

ACCELERATION_UNITS = tuple(_ACCELERATION)
RATE_UNITS = tuple(_RATE)
KNOWN_UNITS = ACCELERATION_UNITS + RATE_UNITS + _OTHER
INTERNAL_UNITS = ("g", "rad/s")

_ALIASES = {
    "m/s2": "m/s^2",
    "m/s²": "m/s^2",
    "ms^-2": "m/s^2",
    "m s^-2": "m/s^2",
    "rad s^-1": "rad/s",
    "dps": "deg/s",
    "°/s": "deg/s",
    "deg s^-1": "deg/s",
    "µT": "uT",  # micro sign
    "μT": "uT",  # Greek mu
}

KINEMATIC_PLACEMENTS = (
    "wrist",
    "wrist-left",
    "wrist-right",
    "upper-arm",
    "upper-arm-left",
    "upper-arm-right",
)
_WORD = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def canonical_unit(unit: str) -> str:
    """The one spelling of a known unit (``"m/s2"`` -> ``"m/s^2"``).

    Raises
    ------
    ValueError
        For a unit this module does not know; the message lists the accepted ones.

    Examples
    --------
    >>> canonical_unit(" dps ")
    'deg/s'
    >>> canonical_unit("km/h")
    Traceback (most recent call last):
    ...
    ValueError: unknown unit 'km/h' (accepted: g, m/s^2, mg, rad/s, deg/s, uT, a.u., scaled)
    """
    text = str(unit).strip()
    text = _ALIASES.get(text, text)
    if text not in KNOWN_UNITS:
        raise ValueError(f"unknown unit {unit!r} (accepted: {', '.join(KNOWN_UNITS)})")
    return text


def unit_spelling(unit: str) -> str:
    """The canonical spelling of a known unit, else ``unit`` as it is (no error).

    Examples
    --------
    >>> unit_spelling("dps"), unit_spelling("V")
    ('deg/s', 'V')
    """
    try:
        return canonical_unit(unit)
    except ValueError:
        return str(unit)


def internal_unit(unit: str) -> str:
    """The unit imusynth works in for a channel in ``unit``.

    ``"g"`` for any acceleration unit, ``"rad/s"`` for any angular rate, and the unit itself
    (canonically spelled) otherwise. A unit this module does not know is returned as it is:
    it is never converted (a :class:`~imusynth.data.WindowSet` may carry any unit names;
    dataset specs accept only known ones).

    Examples
    --------
    >>> internal_unit("mg"), internal_unit("deg s^-1"), internal_unit("µT"), internal_unit("V")
    ('g', 'rad/s', 'uT', 'V')
    """
    text = unit_spelling(unit)
    if text in _ACCELERATION:
        return "g"
    if text in _RATE:
        return "rad/s"
    return text


def is_acceleration(unit: str) -> bool:
    """True for a unit of acceleration (an accelerometer channel)."""
    return unit_spelling(unit) in _ACCELERATION


def unit_factor(from_unit: str, to_unit: str) -> float:
    """The number a value in ``from_unit`` is multiplied by to read in ``to_unit``.

    Raises
    ------
    ValueError
        If the two units measure different quantities (or either is unknown and they differ).

    Examples
    --------
    >>> unit_factor("m/s^2", "g") == 1 / 9.80665, unit_factor("mg", "g"), unit_factor("g", "g")
    (True, 0.001, 1.0)
    >>> unit_factor("deg/s", "g")
    Traceback (most recent call last):
    ...
    ValueError: cannot convert 'deg/s' to 'g' (different quantities)
    """
    a, b = unit_spelling(from_unit), unit_spelling(to_unit)
    if a == b:
        return 1.0
    for table in (_ACCELERATION, _RATE):
        if a in table and b in table:
            return float(table[a] / table[b])
    raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r} (different quantities)")


def _convert(X, from_units: Sequence[str], to_units: Sequence[str]) -> np.ndarray:
    """``X (N, C, ...)`` per channel from one unit to another, as a new float32 array."""
    X = np.asarray(X)
    from_units, to_units = tuple(from_units), tuple(to_units)
    if X.ndim < 2 or X.shape[1] != len(from_units):
        raise ValueError(
            f"X has shape {X.shape}: expected (N, C, T) with C = {len(from_units)} channels"
        )
    if len(to_units) != len(from_units):
        raise ValueError(f"{len(to_units)} target units for {len(from_units)} channels")
    factors = [unit_factor(a, b) for a, b in zip(from_units, to_units, strict=True)]
    out = np.array(X, dtype=np.float32, copy=True)
    for c, factor in enumerate(factors):
        if factor != 1.0:
            # In float64 and rounded once, so a value converted there and back is within
            # one float32 rounding of where it started.
            out[:, c] = (X[:, c].astype(np.float64) * factor).astype(np.float32)
    return out


def to_internal(X, units: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Convert ``X (N, C, T)`` from ``units`` (one per channel) to g and rad/s.

    Returns
    -------
    X : ndarray, float32
        A new array; channels whose unit is not converted keep their values.
    units : tuple of str
        The internal unit of each channel (see :func:`internal_unit`).
    """
    internal = tuple(internal_unit(u) for u in units)
    return _convert(X, units, internal), internal


def from_internal(X, internal_units: Sequence[str], target_units: Sequence[str]) -> np.ndarray:
    """Convert ``X (N, C, T)`` from ``internal_units`` to ``target_units`` (per channel).

    The inverse of :func:`to_internal`, e.g. to write synthetic windows in the units the
    user's data came in. Returns a new float32 array.

    Raises
    ------
    ValueError
        A target unit of another quantity than its channel's, or a count mismatch.
    """
    return _convert(X, internal_units, target_units)


def placement_name(text: str) -> str:
    """The normalised name of a sensor placement.

    Lower case, words joined by ``-``; ``"Left wrist"`` and ``"wrist_left"`` become
    ``"wrist-left"``, ``"upper arm"`` ``"upper-arm"``. Placements other than
    :data:`KINEMATIC_PLACEMENTS` (``"hip"``, ``"chest"``) are kept; ``""`` is "not stated".

    Raises
    ------
    ValueError
        For text that is not a word (``"wrist!"``).

    Examples
    --------
    >>> placement_name("Left wrist"), placement_name("UPPER_ARM"), placement_name("hip")
    ('wrist-left', 'upper-arm', 'hip')
    """
    words = re.sub(r"[\s_-]+", "-", str(text).strip().lower()).strip("-")
    words = words.replace("upperarm", "upper-arm")
    for side in ("left", "right"):
        if words.startswith(f"{side}-") and words[len(side) + 1 :] in ("wrist", "upper-arm"):
            words = f"{words[len(side) + 1 :]}-{side}"
    if words and not _WORD.fullmatch(words):
        raise ValueError(
            f"expected a word such as {', '.join(KINEMATIC_PLACEMENTS)} or hip, got {text!r}"
        )
    return words

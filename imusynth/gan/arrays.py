"""Windows handed in as bare arrays: what they must say about themselves.

An array of windows does not know its sampling rate, its units or whether its accelerometer
includes gravity, and a GAN trained on a wrong guess learns the wrong thing silently (a
kinematic generator that assumes 50 Hz and gravity on 10 Hz gravity-free data cancels its
own arm). So :class:`~imusynth.gan.ConditionalGAN` and
:class:`~imusynth.gan.CGANOverSampler` take these as explicit parameters, refuse arrays
without them, and train in the internal units (g, rad/s), giving their windows back in the
units they were given.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from imusynth.data import WindowSet
from imusynth.data.units import canonical_unit, from_internal, internal_unit, to_internal
from imusynth.data.windows import IMU_CHANNELS
from imusynth.errors import ConfigError

__all__ = [
    "array_params",
    "in_internal_units",
    "in_source_units",
    "refuse_with_set",
    "windows_from_arrays",
]

IMU_KINDS = ("g",) * 3 + ("rad/s",) * 3  # the internal units of 3 accelerations, 3 rates


def windows_from_arrays(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    side: np.ndarray | None,
    classes: Sequence[str],
    channels: Sequence[str] | None,
    units: str | Sequence[str] | None,
    sampling_rate_hz: float | None,
    gravity: bool | None,
    placement: str | None,
    kinematic: bool,
) -> WindowSet:
    """A :class:`WindowSet` of arrays ``X (N, C, T)`` and what the caller says of them.

    ``sampling_rate_hz`` and ``units`` (one string for every channel, or one per channel)
    are required; for the kinematic generator also ``gravity``. ``channels`` defaults to
    ``ax, ay, az, wx, wy, wz`` for three accelerations then three rates, else ``ch0, ...``;
    ``placement`` to ``""`` (not stated). Raises :class:`ConfigError` naming the parameter.
    """
    units = array_params(
        X.shape[1],
        units=units,
        sampling_rate_hz=sampling_rate_hz,
        gravity=gravity,
        kinematic=kinematic,
    )
    if channels is None:
        channels = IMU_CHANNELS if _imu_kinds(units) else [f"ch{i}" for i in range(len(units))]
    return WindowSet(
        X=X,
        y=y,
        groups=groups,
        classes=tuple(classes),
        channels=tuple(channels),
        units=units,
        sampling_rate_hz=float(sampling_rate_hz),
        side=side,
        gravity=True if gravity is None else bool(gravity),
        placement="" if placement is None else str(placement),
    )


def array_params(
    n_channels: int,
    *,
    units: str | Sequence[str] | None,
    sampling_rate_hz: float | None,
    gravity: bool | None,
    kinematic: bool,
) -> tuple[str, ...]:
    """Check that arrays of ``n_channels`` channels come with what they must say; returns
    one unit per channel. Raises :class:`ConfigError` naming the missing parameter."""
    if sampling_rate_hz is None:
        raise ConfigError(
            "windows given as arrays need their sampling rate in Hz (sampling_rate_hz=50.0)",
            field="sampling_rate_hz",
        )
    if not (isinstance(sampling_rate_hz, int | float) and math.isfinite(sampling_rate_hz)):
        raise ConfigError(f"must be a number, got {sampling_rate_hz!r}", field="sampling_rate_hz")
    if sampling_rate_hz <= 0:
        raise ConfigError(f"must be above 0 Hz, got {sampling_rate_hz}", field="sampling_rate_hz")
    if units is None:
        raise ConfigError(
            "windows given as arrays need their units, one per channel, e.g. "
            "units=('m/s^2',) * 3 + ('deg/s',) * 3 (they are converted to g and rad/s)",
            field="units",
        )
    units = (units,) * n_channels if isinstance(units, str) else tuple(units)
    if len(units) != n_channels:
        raise ConfigError(f"{len(units)} units for {n_channels} channels", field="units")
    if kinematic and gravity is None:
        raise ConfigError(
            "say whether the accelerometer data include gravity: gravity=True for raw "
            "accelerometer readings (1 g at rest), gravity=False for linear acceleration",
            field="gravity",
        )
    return units


def refuse_with_set(**given: Any) -> None:
    """A WindowSet says all of these itself: any of them given beside it is an error."""
    for name, value in given.items():
        if value is not None:
            raise ConfigError(
                "a WindowSet brings its labels, names, units, rate, gravity and placement; "
                "pass it alone, or pass arrays",
                field=name,
            )


def in_internal_units(ws: WindowSet, *, strict: bool) -> WindowSet:
    """``ws`` in g and rad/s, its own units kept as ``source_units``.

    Units that are not accelerations or rates stay as they are; a unit the package does not
    know is an error when ``strict`` (the kinematic generator), else left as it is.
    """
    try:
        for unit in ws.units:
            canonical_unit(unit)  # the data layer carries any unit; here it must be known
        X, internal = to_internal(ws.X, ws.units)
    except ValueError as exc:
        if strict:
            raise ConfigError(str(exc), field="units") from None
        return ws
    if tuple(internal) == tuple(ws.units):
        return ws
    source = ws.source_units if ws.source_units is not None else ws.units
    return dataclasses.replace(ws, X=X, units=tuple(internal), source_units=tuple(source))


def in_source_units(X: np.ndarray, run: Any) -> np.ndarray:
    """Generated windows ``X (N, C, T)`` of ``run`` in the units its data came in."""
    source = getattr(run, "source_units", None)
    if source is None or len(X) == 0:
        return X
    return from_internal(X, run.units, source)


def _imu_kinds(units: Sequence[str]) -> bool:
    try:
        return tuple(internal_unit(u) for u in units) == IMU_KINDS
    except ValueError:
        return False

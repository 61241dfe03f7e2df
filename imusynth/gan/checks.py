"""Can a generator serve these data? Checked before anything is trained or written.

:func:`check_generator_data` is the one place that says whether a GAN config's generator
can model a :class:`~imusynth.data.WindowSet`; ``train``, the estimators and the experiment
runner call it before their first write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from imusynth.data import WindowSet
from imusynth.errors import ConfigError, DataError
from imusynth.models.kinematic import PLACEMENT_SEGMENTS
from imusynth.train.config import GANConfig

__all__ = ["check_generator_data", "check_kinematic_channels", "gravity_reading"]

log = logging.getLogger(__name__)

KINEMATIC_UNITS = ("g", "g", "g", "rad/s", "rad/s", "rad/s")
# Median over windows of |time-mean of the accelerometer| in g: about 1 with gravity in the
# data (movement averages out over a window, gravity does not), about 0 without it.
GRAVITY_SPLIT_G = 0.5


def check_generator_data(config: GANConfig, data: WindowSet) -> None:
    """Raise :class:`~imusynth.errors.ConfigError` if ``config``'s generator cannot model
    ``data``.

    The kinematic generator needs 3 accelerometer channels in g then 3 gyroscope channels
    in rad/s, a sampling rate, and a sensor on the wrist or the upper arm (``placement``
    ``""``, not stated, is taken as the wrist); any other placement is refused with a pointer
    to ``conv1d``. It also logs a warning when the accelerometer's reading disagrees with the
    data's ``gravity`` flag (see :func:`gravity_reading`).

    Examples
    --------
    >>> ws = WindowSet(np.zeros((2, 6, 8), np.float32), [0, 0], ["s", "s"], ("a",),
    ...                ("ax", "ay", "az", "wx", "wy", "wz"), KINEMATIC_UNITS, 50.0,
    ...                placement="hip")
    >>> check_generator_data(GANConfig(), ws)  # conv1d models anything
    >>> from imusynth.train.config import apply_overrides
    >>> check_generator_data(apply_overrides(GANConfig(), ["model.generator=kinematic"]), ws)
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: model.generator: the kinematic generator models a sensor on \
the wrist or the upper arm, not placement 'hip'; use model.generator=conv1d for other placements
    """
    if config.model.generator != "kinematic":
        return
    check_kinematic_channels(data.channels, data.units)
    if data.placement not in PLACEMENT_SEGMENTS:
        raise ConfigError(
            f"the kinematic generator models a sensor on the wrist or the upper arm, not "
            f"placement {data.placement!r}; use model.generator=conv1d for other placements",
            field="model.generator",
        )
    if not data.sampling_rate_hz > 0:
        raise DataError(
            "the kinematic generator differentiates in time and needs the sampling rate",
            field="sampling_rate_hz",
        )
    reading = gravity_reading(data.X)
    if reading is not None and (reading > GRAVITY_SPLIT_G) != bool(data.gravity):
        said = "include gravity" if data.gravity else "have gravity removed"
        log.warning(
            "the data are said to %s, but the accelerometer's window means are %.2f g in "
            "size (median; about 1 g with gravity, 0 without): check the data's gravity flag "
            "([signal] gravity, WindowSet.gravity, gravity=) and units",
            said,
            reading,
        )


def gravity_reading(X: np.ndarray) -> float | None:
    """Median over windows of the size of the accelerometer's time-mean, in g.

    Movement averages out over a window and gravity does not: about 1 when the data include
    gravity, about 0 when it was removed. ``X``: ``(N, 6, T)`` with the accelerometer first;
    ``None`` for no windows.
    """
    X = np.asarray(X)
    if len(X) == 0:
        return None
    means = X[:, :3].astype(np.float64).mean(axis=2)  # (N, 3)
    return float(np.median(np.linalg.norm(means, axis=1)))


def check_kinematic_channels(channels: Sequence[str], units: Sequence[str]) -> None:
    """The kinematic generator's channels: accelerometer in g, then gyroscope in rad/s."""
    if tuple(units) != KINEMATIC_UNITS:
        raise ConfigError(
            f"the kinematic generator makes 3 accelerometer channels in g then 3 gyroscope "
            f"channels in rad/s; the data has {list(channels)} in {list(units)}",
            field="model.generator",
        )

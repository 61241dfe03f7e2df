"""Can a generator serve these data? Checked before anything is trained or written.

:func:`check_generator_data` is the one place that says whether a GAN config's generator
can model a :class:`~imusynth.data.WindowSet`; ``train``, the estimators and the experiment
runner call it before their first write.
"""

from __future__ import annotations

from collections.abc import Sequence

from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.train.config import GANConfig

__all__ = ["check_generator_data"]

KINEMATIC_UNITS = ("g", "g", "g", "rad/s", "rad/s", "rad/s")


def check_generator_data(config: GANConfig, data: WindowSet) -> None:
    """Raise :class:`~imusynth.errors.ConfigError` if ``config``'s generator cannot model
    ``data`` (today: the kinematic generator needs 3 accelerometer channels in g then 3
    gyroscope channels in rad/s)."""
    if config.model.generator == "kinematic":
        check_kinematic_channels(data.channels, data.units)


def check_kinematic_channels(channels: Sequence[str], units: Sequence[str]) -> None:
    if tuple(units) != KINEMATIC_UNITS:
        raise ConfigError(
            f"the kinematic generator makes 3 accelerometer channels in g then 3 gyroscope "
            f"channels in rad/s; the data has {list(channels)} in {list(units)}",
            field="model.generator",
        )

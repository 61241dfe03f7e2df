"""Build the GAN networks a :class:`~imusynth.train.config.ModelConfig` describes.

The config's time constants are in seconds or hertz; here they become samples for the data's
sampling rate and window length (:meth:`~imusynth.train.config.ModelConfig.joint_stride_for`,
:func:`stft_sizes`), so one config builds for any rate.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from torch import nn

from imusynth.errors import ConfigError
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.runtime import seeded
from imusynth.train.config import IMAGE_GENERATORS, ModelConfig

log = logging.getLogger(__name__)

__all__ = ["build_discriminator", "build_generator", "build_image_gan", "stft_sizes"]

STFT_BASE_SECONDS = 0.32  # the finest spectral critic's window (16 samples at 50 Hz)
STFT_MIN_FFT = 8  # fewer samples give a spectrum of 4 bins
# Below this rate a window holds only the movement's own band (no tremor, strap wobble or
# sensor noise above ~6 Hz for the spectral critics to judge), and at 10 Hz they made the
# discriminator win outright: conv1d's forest TSTR/TRTR 0.53 with them, 0.95 without
# (experiments/results/user_data_10hz.md). The time-domain critic judges such data alone.
STFT_MIN_RATE_HZ = 20.0
# The ModelConfig fields each network takes: under the same names, and renamed (argument:
# field). The generators' GeneratorTrunk1d gets the TRUNK ones.
TRUNK_FIELDS = ("latent_dim", "embed_dim", "kernel_size", "noise_channels")
TRUNK_RENAMED = {"width": "g_width", "n_blocks": "g_blocks"}
TIME_CRITIC_FIELDS = ("kernel_size", "spectral_norm", "ac_head", "minibatch_std")
TIME_CRITIC_RENAMED = {"width": "d_width", "n_blocks": "d_blocks", "diff_input": "d_diff_input"}
KINEMATIC_FIELDS = (
    "mount_max_deg",
    "residual",
    "sensor_noise_bands",
    "sensor_noise_mix",
    "sensor_noise_envelope",
    "sensor_noise_envelope_max",
    "joint_harmonics",
    "joint_symmetric",
    "joint_reversal",
)


def _fields(cfg: ModelConfig, *same: str, **renamed: str) -> dict[str, Any]:
    """Constructor arguments read from ``cfg``: the fields ``same`` under their own names,
    and ``renamed`` as ``argument="field"``.

    >>> _fields(ModelConfig(), "kernel_size", width="g_width")
    {'kernel_size': 5, 'width': 128}
    """
    return {name: getattr(cfg, name) for name in same} | {
        arg: getattr(cfg, name) for arg, name in renamed.items()
    }


def build_generator(
    cfg: ModelConfig,
    n_channels: int,
    length: int,
    n_classes: int,
    *,
    n_sides: int = 0,
    sampling_rate_hz: float = 50.0,
    channel_mean: np.ndarray | None = None,
    channel_scale: np.ndarray | None = None,
    sensor_noise_std: np.ndarray | None = None,
    gravity: bool = True,
    placement: str = "",
    seed: int = 0,
) -> nn.Module:
    """The generator of ``cfg.generator``: ``"conv1d"`` or ``"kinematic"``.

    Parameters
    ----------
    cfg : ModelConfig
    n_channels, length, n_classes : int
        Window shape ``(C, T)`` and number of classes (0: unconditional).
    n_sides : int
        2 to condition on the arm side (used when ``cfg.condition_on_side``), else 0.
    sampling_rate_hz : float
        Needed by the kinematic generator to differentiate joint angles in time, and to turn
        ``cfg.joint_rate_hz`` and ``cfg.sensor_noise_seconds`` into samples.
    channel_mean, channel_scale : ndarray of shape (C,), optional
        The fitted normaliser, which the kinematic generator applies to the signals its arm
        model makes (its outputs must live in the normalised space the discriminator sees).
    sensor_noise_std : ndarray of shape (C,), optional
        Starting level of the kinematic generator's sensor-noise stage (normalised units;
        :func:`imusynth.gan.fast_variation` of the training windows); used only with the
        FIR sensor noise (``cfg.sensor_noise_seconds``).
    gravity : bool
        Kinematic generator: whether the accelerometer data include gravity.
    placement : str
        Kinematic generator: where the sensor is worn (wrist or upper arm; ``""`` = wrist).
    seed : int
        Seeds the initial weights.

    Examples
    --------
    >>> g = build_generator(ModelConfig(), n_channels=6, length=250, n_classes=7)
    >>> type(g).__name__, g.trunk.latent_dim, g.latent_dim  # z: 64 + 4 noise maps of 256
    ('Conv1dGenerator', 64, 1088)
    """
    # What both 1D generators pass to their shared GeneratorTrunk1d.
    sides = cfg.sides_for(n_sides)
    trunk = _fields(cfg, *TRUNK_FIELDS, **TRUNK_RENAMED) | {"n_sides": sides}
    with seeded(seed):
        if cfg.generator == "conv1d":
            return Conv1dGenerator(n_channels, length, n_classes, **trunk)
        if cfg.generator == "kinematic":
            from imusynth.models.kinematic import (
                HARMONIC_HZ,
                KinematicGenerator,
                max_joint_harmonics,
            )

            stride = cfg.joint_stride_for(sampling_rate_hz)
            most = max_joint_harmonics(sampling_rate_hz, stride)
            if cfg.joint_harmonics > most:
                raise ConfigError(
                    f"{cfg.joint_harmonics} harmonics of up to {HARMONIC_HZ[1]} Hz pass the joint "
                    f"rate's Nyquist frequency ({sampling_rate_hz / stride / 2:g} Hz); use at "
                    f"most {most} or raise model.joint_rate_hz",
                    field="model.joint_harmonics",
                )
            return KinematicGenerator(
                n_channels,
                length,
                n_classes,
                sampling_rate_hz=sampling_rate_hz,
                channel_mean=channel_mean,
                channel_scale=channel_scale,
                **trunk,
                joint_stride=stride,
                sensor_noise_taps=cfg.sensor_noise_taps_for(sampling_rate_hz),
                **_fields(cfg, *KINEMATIC_FIELDS),
                sensor_noise_std=sensor_noise_std,
                gravity=gravity,
                placement=placement,
            )
    if cfg.generator in IMAGE_GENERATORS:
        raise ConfigError(
            f"{cfg.generator!r} makes 64x64 images, not windows (see imusynth.gan.images)",
            field="model.generator",
        )
    raise ConfigError(
        f"unknown generator {cfg.generator!r} (expected conv1d or kinematic)",
        field="model.generator",
    )


def build_discriminator(
    cfg: ModelConfig,
    n_channels: int,
    n_classes: int,
    *,
    n_sides: int = 0,
    sampling_rate_hz: float | None = None,
    length: int | None = None,
    seed: int = 0,
) -> nn.Module:
    """The projection discriminator of ``cfg`` (``seed`` + 1 seeds its weights).

    With ``cfg.d_stft`` > 0 it is wrapped in a
    :class:`~imusynth.models.spectral.CombinedDiscriminator1d` with that many
    :class:`~imusynth.models.spectral.STFTDiscriminator1d`, ``n_fft`` from
    :func:`stft_sizes` for ``sampling_rate_hz`` and ``length`` (16, 32, 64, ... when they
    are not given); with ``cfg.d_repeat_seconds`` > 0 a
    :class:`~imusynth.models.spectral.RepetitionCritic1d` over that many seconds of lags (at
    50 Hz when the rate is not given) joins them (seeing the time asymmetry too with
    ``cfg.d_repeat_asymmetry``).

    Examples
    --------
    >>> d = build_discriminator(ModelConfig(ac_head=True), n_channels=6, n_classes=7)
    >>> d.classifier is not None
    True
    """
    sides = cfg.sides_for(n_sides)
    with seeded(seed + 1):
        passed = _fields(cfg, *TIME_CRITIC_FIELDS, **TIME_CRITIC_RENAMED)
        time_critic = ProjectionDiscriminator1d(n_channels, n_classes, n_sides=sides, **passed)
        sizes = stft_sizes(cfg.d_stft, sampling_rate_hz, length) if cfg.d_stft else []
        if cfg.d_stft and not sizes:
            log.info(
                "no spectral critics at %s Hz (below %s Hz a window holds only movement)",
                sampling_rate_hz,
                STFT_MIN_RATE_HZ,
            )
        max_lag = round(cfg.d_repeat_seconds * (sampling_rate_hz or 50.0))
        if length is not None and max_lag > length:
            log.warning(
                "model.d_repeat_seconds = %g s is longer than the %d-sample window: the "
                "repetition critic sees lags up to the window's length",
                cfg.d_repeat_seconds,
                length,
            )
            max_lag = length
        if not sizes and not max_lag:
            return time_critic
        from imusynth.models.spectral import (
            CombinedDiscriminator1d,
            RepetitionCritic1d,
            STFTDiscriminator1d,
        )

        common = {"width": 2 * cfg.d_width, "spectral_norm": cfg.spectral_norm, "n_sides": sides}
        spectral = [
            STFTDiscriminator1d(n_channels, n_classes, n_fft=n_fft, **common) for n_fft in sizes
        ]
        if max_lag:
            spectral.append(
                RepetitionCritic1d(
                    n_channels,
                    n_classes,
                    max_lag=max_lag,
                    asymmetry=cfg.d_repeat_asymmetry,
                    **common,
                )
            )
        return CombinedDiscriminator1d(time_critic, spectral)


def stft_sizes(count: int, sampling_rate_hz: float | None, length: int | None) -> list[int]:
    """FFT sizes of ``count`` spectral critics for windows of ``length`` samples at
    ``sampling_rate_hz``.

    The finest spans about :data:`STFT_BASE_SECONDS` (a power of two, at least
    :data:`STFT_MIN_FFT` samples); each next one doubles it, up to the largest power of two
    within the window. Sizes that would repeat at that cap are dropped, so short windows may
    get fewer critics. Below :data:`STFT_MIN_RATE_HZ` there are none. Without a rate or
    length: 16, 32, 64, ... as before.

    Examples
    --------
    >>> stft_sizes(3, 50.0, 250), stft_sizes(3, 20.0, 64), stft_sizes(3, 200.0, 400)
    ([16, 32, 64], [8, 16, 32], [64, 128, 256])
    >>> stft_sizes(3, 10.0, 50)
    []
    """
    if sampling_rate_hz and sampling_rate_hz < STFT_MIN_RATE_HZ:
        return []
    base = 16
    if sampling_rate_hz:
        base = max(STFT_MIN_FFT, 2 ** round(math.log2(STFT_BASE_SECONDS * sampling_rate_hz)))
    cap = 2 ** int(math.log2(length)) if length else None
    sizes: list[int] = []
    for i in range(count):
        n_fft = base * 2**i if cap is None else min(base * 2**i, max(cap, STFT_MIN_FFT))
        if n_fft not in sizes:
            sizes.append(n_fft)
    return sizes


def build_image_gan(
    cfg: ModelConfig, n_classes: int, *, seed: int = 0
) -> tuple[nn.Module, nn.Module]:
    """The 64x64 DCGAN pair of ``cfg.generator`` (Frid-Adar et al. 2018).

    ``"dcgan"`` gives an unconditional pair (``n_classes`` is ignored: train one per class);
    ``"acgan"`` a class-conditional generator and a discriminator with an auxiliary class
    head. ``seed`` seeds the generator's weights and ``seed + 1`` the discriminator's.

    Examples
    --------
    >>> g, d = build_image_gan(ModelConfig(generator="acgan", g_width=8, d_width=8), 3)
    >>> g.num_classes, d.num_classes, g.latent_dim
    (3, 3, 64)
    """
    from imusynth.models.dcgan2d import DCGANDiscriminator2d, DCGANGenerator2d

    if cfg.generator not in IMAGE_GENERATORS:
        raise ConfigError(
            f"expected an image generator ({', '.join(IMAGE_GENERATORS)}), got {cfg.generator!r}",
            field="model.generator",
        )
    k = n_classes if cfg.generator == "acgan" else 0
    if cfg.generator == "acgan" and n_classes < 2:
        raise ConfigError(f"an AC-GAN needs at least 2 classes, got {n_classes}", field="y")
    with seeded(seed):
        generator = DCGANGenerator2d(
            k, latent_dim=cfg.latent_dim, width=cfg.g_width, embed_dim=cfg.embed_dim
        )
    with seeded(seed + 1):
        discriminator = DCGANDiscriminator2d(k, width=cfg.d_width, minibatch_std=cfg.minibatch_std)
    return generator, discriminator

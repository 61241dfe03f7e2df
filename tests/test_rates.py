"""One config for any sampling rate: time constants in hertz and seconds, not samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imusynth.config import BUNDLED_DIR
from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.gan import sample, train_run
from imusynth.train.build import build_discriminator, build_generator, stft_sizes
from imusynth.train.config import ModelConfig, apply_overrides, load_config, validate_config

WATCH_CONFIG = BUNDLED_DIR / "watch_cgan.toml"
GRID = [(50, 10.0), (64, 20.0), (250, 50.0), (500, 100.0), (400, 200.0)]  # (T, fs)


def imu_windows(n: int, length: int, fs: float, seed: int = 0) -> WindowSet:
    """Random watch-like windows: accelerometer about 1 g, gyroscope in rad/s."""
    g = np.random.default_rng(seed)
    X = 0.2 * g.normal(size=(n, 6, length)).astype(np.float32)
    X[:, 0] -= 1.0  # the arm hanging: gravity along -x
    return WindowSet(
        X=X,
        y=np.arange(n) % 2,
        groups=np.repeat(["1", "2"], n // 2),
        classes=("ABD", "FEL"),
        channels=("ax", "ay", "az", "wx", "wy", "wz"),
        units=("g",) * 3 + ("rad/s",) * 3,
        sampling_rate_hz=fs,
        side=np.tile(["left", "right"], n // 2),
    )


@pytest.mark.parametrize("generator", ["conv1d", "kinematic"])
@pytest.mark.parametrize(("length", "fs"), GRID)
def test_the_default_config_trains_at_any_rate_and_window_length(generator, length, fs):
    cfg = load_config(
        WATCH_CONFIG,
        [f"model.generator={generator}", "train.steps=2", "train.batch_size=8"],
    )
    assert cfg.model.d_stft == 3 and cfg.model.sensor_noise_bands == 8  # as the default has
    run = train_run(cfg, imu_windows(16, length, fs), None, device="cpu", plots=False)
    assert run.step == 2
    fake = sample(run, 2, seed=0)
    assert fake.X.shape == (4, 6, length) and np.isfinite(fake.X).all()
    if generator == "kinematic":
        assert run.generator.joint_stride == max(1, round(fs / 10.0))


def test_joint_rate_gives_the_old_stride_at_50_hz_and_the_same_generator():
    new = ModelConfig(generator="kinematic")
    old = ModelConfig(generator="kinematic", joint_stride=5)
    assert new.joint_rate_hz == 10.0 and new.joint_stride == 0
    assert [new.joint_stride_for(fs) for fs in (10.0, 20.0, 50.0, 100.0, 200.0)] == [
        1,
        2,
        5,
        10,
        20,
    ]
    a = build_generator(new, 6, 250, 7, n_sides=2, sampling_rate_hz=50.0)
    b = build_generator(old, 6, 250, 7, n_sides=2, sampling_rate_hz=50.0)
    z = torch.randn(3, a.latent_dim, generator=torch.Generator().manual_seed(0))
    y, side = torch.tensor([0, 3, 6]), torch.tensor([0, 1, 1])
    assert a.joint_stride == 5 and torch.equal(a(z, y, side), b(z, y, side))


def test_an_explicit_joint_stride_warns_and_wins(tmp_path):
    with pytest.warns(DeprecationWarning, match="joint_stride"):
        cfg = load_config(None, ["model.generator=kinematic", "model.joint_stride=3"])
    assert cfg.model.joint_stride_for(200.0) == 3
    g = build_generator(cfg.model, 6, 64, 2, sampling_rate_hz=200.0)
    assert g.joint_stride == 3
    path = tmp_path / "old.toml"
    path.write_text("[model]\ngenerator = 'kinematic'\njoint_stride = 4\n")
    with pytest.warns(DeprecationWarning, match=r"old\.toml.*joint_stride"):
        assert load_config(path).model.joint_stride == 4
    load_config(WATCH_CONFIG)  # the default config uses no deprecated key (warnings are errors)


def test_sensor_noise_span_is_in_seconds_and_the_old_taps_key_still_wins():
    m = ModelConfig(generator="kinematic", sensor_noise_seconds=0.62, g_width=32, g_blocks=2)
    assert [m.sensor_noise_taps_for(fs) for fs in (10.0, 50.0, 200.0)] == [7, 31, 125]
    g = build_generator(m, 6, 100, 2, sampling_rate_hz=100.0)
    assert g.sensor_taps.shape[-1] == 63
    with pytest.warns(DeprecationWarning, match="sensor_noise_taps"):
        cfg = load_config(None, ["model.sensor_noise_taps=9", "model.sensor_noise_seconds=1.0"])
    assert cfg.model.sensor_noise_taps_for(200.0) == 9


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.joint_rate_hz=0", "model.joint_rate_hz"),
        ("model.joint_rate_hz=-5", "model.joint_rate_hz"),
        ("model.joint_stride=-1", "model.joint_stride"),
        ("model.sensor_noise_seconds=-0.1", "model.sensor_noise_seconds"),
    ],
)
def test_bad_rates_are_config_errors(override, field):
    with pytest.raises(ConfigError) as info:
        validate_config(apply_overrides(load_config(None), [override]))
    assert info.value.field == field
    both = ["model.sensor_noise_bands=8", "model.sensor_noise_seconds=0.5"]
    with pytest.raises(ConfigError, match="not both"):
        validate_config(apply_overrides(load_config(None), both))


def test_stft_critics_follow_the_rate_and_the_window():
    assert stft_sizes(3, 50.0, 250) == [16, 32, 64]  # the watch default, as before
    assert stft_sizes(3, None, None) == [16, 32, 64]
    assert stft_sizes(3, 20.0, 64) == [8, 16, 32]
    assert stft_sizes(3, 10.0, 50) == []  # below 20 Hz a window holds only movement
    assert stft_sizes(3, 100.0, 500) == [32, 64, 128]
    assert stft_sizes(4, 200.0, 100) == [64]  # at most the window: no critic twice
    d = build_discriminator(ModelConfig(d_stft=3), 6, 2, sampling_rate_hz=200.0, length=400)
    assert [c.n_fft for c in d.spectral_critics] == [64, 128, 256]
    slow = build_discriminator(ModelConfig(d_stft=3), 6, 2, sampling_rate_hz=10.0, length=50)
    assert not hasattr(slow, "spectral_critics")  # the time-domain critic alone

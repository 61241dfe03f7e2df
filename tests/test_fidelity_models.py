"""Models for fidelity: spectral critics, band-shaped sensor noise, the joint path's spectrum."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from imusynth.errors import ConfigError
from imusynth.models.gan1d import ProjectionDiscriminator1d
from imusynth.models.kinematic import KinematicGenerator
from imusynth.models.spectral import (
    CombinedDiscriminator1d,
    STFTDiscriminator1d,
    log_stft_magnitude,
)
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.config import GANConfig, ModelConfig, apply_overrides, validate_config

SMALL = dict(width=32, n_blocks=2)
FS = 50.0


def _band_power(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Power of ``x`` (..., T) between ``lo`` and ``hi`` Hz, per leading index."""
    p = torch.fft.rfft(x, dim=-1).abs() ** 2
    f = torch.fft.rfftfreq(x.shape[-1], 1.0 / FS)
    return p[..., (f >= lo) & (f < hi)].sum(-1)


def test_log_stft_magnitude_puts_a_tone_in_its_bin_and_has_finite_gradients_at_zero():
    t = torch.arange(256) / FS
    x = torch.zeros(2, 1, 256)
    x[1, 0] = torch.sin(2 * torch.pi * 20.0 * t)  # 20 Hz: bin 20 / (50 / 32) = 12.8
    s = log_stft_magnitude(x, 32)  # (2, 1, 17, frames)
    assert s.shape[:3] == (2, 1, 17)
    mid = s[1, 0, :, 4:-4].mean(-1)  # away from the padded ends
    assert int(mid.argmax()) in (12, 13)
    assert float(mid[12] - mid[3]) > 3.0  # a log scale: the tone stands far above the floor
    z = torch.zeros(1, 1, 64, requires_grad=True)
    log_stft_magnitude(z, 16).sum().backward()
    assert torch.isfinite(z.grad).all()
    # Windows shorter than half an FFT cannot be reflect-padded: zero padding instead.
    assert log_stft_magnitude(torch.randn(2, 6, 32), 64).shape[:3] == (2, 6, 33)


def test_stft_critic_is_conditioned_and_gradients_reach_its_input():
    torch.manual_seed(0)
    d = STFTDiscriminator1d(6, 3, n_fft=16, width=16, n_sides=2)
    x = torch.randn(4, 6, 100, requires_grad=True)
    out = d(x, torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 0, 1]))
    assert out.shape == (4,)
    x2 = x.detach()[:1].expand(3, -1, -1)
    by_class = d(x2, torch.tensor([0, 1, 2]), torch.tensor([1, 1, 1]))
    assert len(set(by_class.tolist())) == 3
    out.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("ac_head", [False, True])
def test_combined_critic_sums_the_logits_and_trains_every_part(ac_head):
    torch.manual_seed(0)
    time_d = ProjectionDiscriminator1d(6, 3, width=8, n_blocks=2, ac_head=ac_head)
    spec = [STFTDiscriminator1d(6, 3, n_fft=n, width=8) for n in (16, 32)]
    d = CombinedDiscriminator1d(time_d, spec).eval()  # eval: spectral norm stops iterating
    x, y = torch.randn(5, 6, 80), torch.tensor([0, 1, 2, 0, 1])
    out = d(x, y)
    t_out = time_d(x, y)
    expected = (t_out[0] if ac_head else t_out) + spec[0](x, y) + spec[1](x, y)
    if ac_head:
        torch.testing.assert_close(out[0], expected)
        torch.testing.assert_close(out[1], t_out[1])
        assert d.classifier is time_d.classifier
        logits = out[0]
    else:
        torch.testing.assert_close(out, expected)
        assert d.classifier is None
        logits = out
    logits.sum().backward()
    for part in (time_d, *spec):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_combined_critic_runs_under_bf16_autocast():
    d = CombinedDiscriminator1d(
        ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2), [STFTDiscriminator1d(6, 2, width=8)]
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = d(torch.randn(3, 6, 64), torch.tensor([0, 1, 1]))
    assert out.shape == (3,) and torch.isfinite(out.float()).all()


def test_build_discriminator_adds_spectral_critics_from_config():
    plain = build_discriminator(ModelConfig(), 6, 7, n_sides=2)
    assert isinstance(plain, ProjectionDiscriminator1d)
    d = build_discriminator(ModelConfig(d_stft=3), 6, 7, n_sides=2)
    assert isinstance(d, CombinedDiscriminator1d)
    assert [c.n_fft for c in d.spectral_critics] == [16, 32, 64]
    assert all(c.n_sides == 2 for c in d.spectral_critics)
    # The time-domain critic is the one built without spectral critics (same seed).
    torch.testing.assert_close(d.time_critic.state_dict(), plain.state_dict())
    assert d(torch.randn(2, 6, 250), torch.tensor([0, 6]), torch.tensor([0, 1])).shape == (2,)


def _band_generator(**kw) -> KinematicGenerator:
    return KinematicGenerator(6, 128, 2, **SMALL, residual=False, sensor_noise_bands=4, **kw)


def test_band_noise_rides_in_z_and_puts_its_power_in_the_bands_it_is_given():
    torch.manual_seed(0)
    plain = KinematicGenerator(6, 128, 2, **SMALL, residual=False)
    g = _band_generator()
    assert g.latent_dim == plain.latent_dim + 6 * 128 + 1 + 6 * 4
    g.load_state_dict(plain.state_dict(), strict=False)
    z, y = torch.randn(64, g.latent_dim), torch.zeros(64, dtype=torch.long)
    with torch.no_grad():
        g.band_log_spread.fill_(-10.0)  # no spread: every window the same spectrum
        g.band_log_gain.fill_(-10.0)
        g.band_log_gain[:, 2] = np.log(0.5) / 20.0  # only the third band (12.5-18.75 Hz)
        added = g(z, y) - plain(z[:, : plain.latent_dim], y)
    inside = _band_power(added, 12.5, 18.75).sum()
    assert inside / _band_power(added, 0.0, 26.0).sum() > 0.85
    assert _band_power(added, 21.9, 26.0).sum() / inside < 0.01  # nothing near Nyquist
    # Circular filtering of white noise: both ends of the window carry no transient.
    ends = added[..., :4].pow(2).mean() + added[..., -4:].pow(2).mean()
    assert float(ends / (2 * added.pow(2).mean())) < 2.0


def test_band_noise_level_varies_from_window_to_window_by_the_learned_spread():
    torch.manual_seed(0)
    g = _band_generator()
    h = torch.zeros(512, g.trunk.out_channels, 128)
    eps = torch.randn(512, 1 + 6 * 4)
    with torch.no_grad():
        g.band_log_spread.fill_(-10.0)
        narrow = g.band_log_gains(eps, h)
        g.band_log_spread.fill_(np.log(0.5) / 20.0)  # shared and own spread 0.5 each
        wide = g.band_log_gains(eps, h)
    assert float(narrow.std(0).max()) < 1e-3
    sd = wide.std(0)  # (6, K): sqrt(0.25 + 0.25) expected
    assert float((sd - np.sqrt(0.5)).abs().max()) < 0.1
    # The shared draw makes bands of one window rise and fall together.
    corr = np.corrcoef(wide[:, 0, 0].numpy(), wide[:, 3, 2].numpy())[0, 1]
    assert 0.3 < corr < 0.7


def test_band_noise_parameters_learn_and_exclude_fir_taps():
    g = _band_generator()
    z, y = torch.randn(4, g.latent_dim), torch.tensor([0, 1, 0, 1])
    g(z, y).pow(2).mean().backward()
    for p in (g.band_log_gain, g.band_log_spread, g.band_head.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="not both"):
        KinematicGenerator(6, 32, 2, sensor_noise_bands=4, sensor_noise_taps=5)


def _built_only_with_band_noise(option: str) -> KinematicGenerator:
    """An option that reshapes the band noise: refused without it (by the model, and by the
    config naming the key), and built from a config that has both."""
    with pytest.raises(ValueError, match="sensor_noise_bands"):
        KinematicGenerator(6, 32, 2, **{option: True})
    with pytest.raises(ConfigError) as err:
        validate_config(
            apply_overrides(GANConfig(), ["model.sensor_noise_bands=0", f"model.{option}=true"])
        )
    assert err.value.field == f"model.{option}"
    cfg = ModelConfig(generator="kinematic", sensor_noise_bands=8, **{option: True})
    return build_generator(cfg, 6, 250, 7)


def test_band_noise_mix_starts_as_identity_and_learns_cross_axis_correlation():
    torch.manual_seed(0)
    plain, mixed = _band_generator(), _band_generator(sensor_noise_mix=True)
    mixed.load_state_dict(plain.state_dict(), strict=False)
    z, y = torch.randn(32, plain.latent_dim), torch.zeros(32, dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(mixed(z, y), plain(z, y))  # identity at first
        base = plain(z, y) - plain(
            torch.cat([z[:, : plain.trunk_z_dim], 0 * z[:, plain.trunk_z_dim :]], 1), y
        )
        mixed.noise_mix[3, 2] = 1.0 / 20.0  # wx gets az's noise added, one to one
        noise = mixed(z, y) - plain(
            torch.cat([z[:, : plain.trunk_z_dim], 0 * z[:, plain.trunk_z_dim :]], 1), y
        )
    torch.testing.assert_close(noise[:, 3], base[:, 3] + base[:, 2])
    torch.testing.assert_close(noise[:, :3], base[:, :3])
    mixed(z, y).pow(2).mean().backward()
    assert mixed.noise_mix.grad is not None and mixed.noise_mix.grad.abs().sum() > 0
    assert _built_only_with_band_noise("sensor_noise_mix").noise_mix is not None


def test_band_noise_from_config_and_invalid_combinations_name_the_key():
    cfg = ModelConfig(generator="kinematic", sensor_noise_taps=0, sensor_noise_bands=8)
    g = build_generator(cfg, 6, 250, 7)
    assert g.noise_bands == 8 and g.sensor_taps is None
    both = apply_overrides(
        GANConfig(), ["model.sensor_noise_bands=8", "model.sensor_noise_taps=31"]
    )
    with pytest.raises(ConfigError) as err:
        validate_config(both)
    assert err.value.field == "model.sensor_noise_bands"
    for bad in ("model.d_stft=5", "model.d_stft=-1", "model.sensor_noise_bands=-2"):
        with pytest.raises(ConfigError) as err:
            validate_config(apply_overrides(GANConfig(), [bad]))
        assert err.value.field == bad.split("=")[0]


def test_joint_path_acceleration_has_no_spike_at_the_coarse_rate_harmonics():
    # Joint angles proposed every 5 samples (10 Hz) and interpolated: the accelerometer sees
    # their second derivative, where kinks of the interpolation would show at 10 and 20 Hz.
    torch.manual_seed(0)
    g = KinematicGenerator(6, 250, 2, **SMALL, joint_stride=5)
    q = g._joint_angles(2.0 * torch.randn(32, 7, 250))  # rough raw output
    acc = torch.diff(q, n=2, dim=-1)  # (B, J, T - 2)
    total = _band_power(acc, 0.0, 26.0).sum()
    for harmonic in (10.0, 20.0):
        near = _band_power(acc, harmonic - 0.5, harmonic + 0.5).sum()
        below = _band_power(acc, harmonic - 3.0, harmonic - 2.0).sum()
        assert near <= below  # no peak: the spectrum keeps falling through the harmonic
    assert _band_power(acc, 15.0, 26.0).sum() / total < 1e-3


def test_a_run_with_band_noise_and_spectral_critics_trains_resumes_and_samples(
    tmp_path, tiny_windows
):
    from imusynth.gan import load_run, sample_run, train_run
    from imusynth.train.config import load_config

    tiny = ["model.g_width=32", "model.g_blocks=2", "model.d_width=8", "model.d_blocks=2"]
    new = ["model.generator=kinematic", "model.sensor_noise_bands=4", "model.d_stft=2"]
    new += ["model.d_repeat_seconds=0.5"]
    common = [*tiny, *new, "train.batch_size=8", "train.log_every=1", "train.precision=bf16"]
    out = tmp_path / "run"
    train_run(load_config(None, [*common, "train.steps=2"]), tiny_windows, out, plots=False)
    run = train_run(
        load_config(None, [*common, "train.steps=3"]), tiny_windows, out, resume=True, plots=False
    )
    assert run.step == 3
    X, _, q = sample_run(load_run(out), per_class=3, seed=0)
    assert X.shape == (6, 6, tiny_windows.X.shape[-1]) and np.isfinite(X).all()
    assert q.shape[:2] == (6, 7)


def test_band_noise_envelope_starts_stationary_keeps_the_level_and_moves_it_in_time():
    torch.manual_seed(0)
    plain, env = _band_generator(), _band_generator(sensor_noise_envelope=True)
    env.load_state_dict(plain.state_dict(), strict=False)
    z, y = torch.randn(32, plain.latent_dim), torch.zeros(32, dtype=torch.long)
    quiet = torch.cat([z[:, : plain.trunk_z_dim], 0 * z[:, plain.trunk_z_dim :]], 1)
    with torch.no_grad():
        torch.testing.assert_close(env(z, y), plain(z, y))  # zero envelope: no change
        base = plain(z, y) - plain(quiet, y)
        env.noise_envelope.bias[2] = 1.0  # a constant log envelope is normalised away
        torch.testing.assert_close(env(z, y) - env(quiet, y), base)
        env.noise_envelope.weight.normal_(0, 0.5)
        noise = env(z, y) - env(quiet, y)
    log_ratio = (noise / base).abs().log()  # the envelope, sample by sample
    torch.testing.assert_close(log_ratio.mean(-1), torch.zeros(32, 6), atol=1e-2, rtol=0)
    assert log_ratio.std(-1).min() > 0.01  # it moves the noise level within the window
    env(z, y).pow(2).mean().backward()
    assert env.noise_envelope.weight.grad.abs().sum() > 0
    assert _built_only_with_band_noise("sensor_noise_envelope").noise_envelope is not None


def test_band_noise_envelope_bound_keeps_the_level_within_the_factor_given():
    torch.manual_seed(0)
    free = _band_generator(sensor_noise_envelope=True)
    bounded = _band_generator(sensor_noise_envelope=True, sensor_noise_envelope_max=2.0)
    bounded.load_state_dict(free.state_dict())
    z, y = torch.randn(32, free.latent_dim), torch.zeros(32, dtype=torch.long)
    quiet = torch.cat([z[:, : free.trunk_z_dim], 0 * z[:, free.trunk_z_dim :]], 1)
    with torch.no_grad():
        torch.testing.assert_close(bounded(z, y), free(z, y))  # zero envelope: no change
        base = free(z, y) - free(quiet, y)  # the stationary noise
        for g in (free, bounded):
            g.noise_envelope.weight.normal_(0, 3.0, generator=torch.Generator().manual_seed(1))
        ratios = [((g(z, y) - g(quiet, y)) / base).abs() for g in (free, bounded)]
    assert ratios[0].max() > 4.0  # unbounded, the envelope reaches far beyond the factor
    # within [1/2, 2] up to float32 rounding of the small noise values' ratio
    assert ratios[1].max() <= 2.0 + 1e-2 and ratios[1].min() >= 0.5 - 1e-2
    assert ratios[1].log().std(-1).min() > 0.01  # still moves the level within the window
    with pytest.raises(ValueError, match="sensor_noise_envelope_max"):
        _band_generator(sensor_noise_envelope_max=2.0)  # no envelope to bound
    on = ["model.sensor_noise_bands=8", "model.sensor_noise_envelope=true"]
    for keys in (
        ["model.sensor_noise_envelope_max=2"],
        [*on, "model.sensor_noise_envelope_max=0.5"],
    ):
        with pytest.raises(ConfigError) as err:
            validate_config(apply_overrides(GANConfig(), keys))
        assert err.value.field == "model.sensor_noise_envelope_max"
    validate_config(apply_overrides(GANConfig(), [*on, "model.sensor_noise_envelope_max=3"]))


def test_joint_harmonics_start_silent_then_repeat_the_movement_at_the_fundamental():
    torch.manual_seed(0)
    plain = KinematicGenerator(6, 250, 2, **SMALL, residual=False)
    rep = KinematicGenerator(6, 250, 2, **SMALL, residual=False, joint_harmonics=4)
    rep.load_state_dict(plain.state_dict(), strict=False)
    z, y = torch.randn(16, plain.latent_dim), torch.zeros(16, dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(rep(z, y), plain(z, y))  # zero amplitudes: no change
        rep.joint_head.weight.zero_()  # only the repeating part moves the joints
        rep.joint_head.bias.zero_()
        rep.harmonic_head.bias[:-1].normal_(0, 0.5)  # amplitudes of every joint and harmonic
        rep.harmonic_head.bias[-1] = 0.0  # the middle of the range: 0.75 Hz, 1.33 s
        q = rep.forward_with_joints(z, y).joint_angles  # (B, J, T)
    period = round(50 / 0.75 * 3)  # three periods: a whole number of samples (200)
    torch.testing.assert_close(q[..., period:], q[..., : 250 - period], atol=1e-4, rtol=0)
    half = round(50 / 0.75 / 2)  # half a period later the joints are elsewhere
    assert (q[..., half:] - q[..., :-half]).abs().amax() > 0.05
    rep(z, y).pow(2).mean().backward()
    assert rep.harmonic_head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="Nyquist"):  # 5 x 1.25 Hz above 10 Hz / 2
        KinematicGenerator(6, 250, 2, **SMALL, joint_harmonics=5, joint_stride=5)
    cfg = ModelConfig(generator="kinematic", joint_harmonics=3)
    assert build_generator(cfg, 6, 250, 7).harmonic_head is not None
    with pytest.raises(ConfigError, match="at most 4") as err:  # a config error, not a crash
        build_generator(ModelConfig(generator="kinematic", joint_harmonics=5), 6, 250, 7)
    assert err.value.field == "model.joint_harmonics"
    fast = ModelConfig(generator="kinematic", joint_harmonics=5, joint_rate_hz=25.0)
    assert build_generator(fast, 6, 250, 7).harmonic_head is not None  # 12.5 Hz Nyquist
    with pytest.raises(ConfigError) as err:
        validate_config(apply_overrides(GANConfig(), ["model.joint_harmonics=-1"]))
    assert err.value.field == "model.joint_harmonics"


def test_symmetric_harmonics_make_each_joints_repetition_the_same_played_backwards():
    torch.manual_seed(0)
    k = 4
    gens = {
        sym: KinematicGenerator(
            6, 250, 2, **SMALL, residual=False, joint_harmonics=k, joint_symmetric=sym
        )
        for sym in (False, True)
    }
    z, y = torch.randn(4, gens[True].latent_dim), torch.zeros(4, dtype=torch.long)
    n_joints = len(gens[True].joint_names)
    centre = 60 + 9 * torch.arange(n_joints)  # each joint's own time of symmetry, in samples
    phi = 2 * torch.pi * 0.75 * centre / 50  # as a phase of the 0.75 Hz fundamental
    amps = torch.randn(n_joints, k) * 0.5
    q = {}
    with torch.no_grad():
        for sym, g in gens.items():
            g.joint_head.weight.zero_()  # only the repeating part moves the joints
            g.joint_head.bias.zero_()
            g.harmonic_head.bias[-1] = 0.0  # the middle of the range: 0.75 Hz
            per = g.harmonic_head.bias[:-1].view(n_joints, -1)
            if sym:  # amplitudes, then the phase as a vector of any length
                per[:, :k], per[:, k], per[:, k + 1] = amps, 3 * phi.cos(), 3 * phi.sin()
            else:  # the same amplitudes as cosine and sine parts of free phases
                per[:, :k], per[:, k:] = amps, torch.randn(n_joints, k) * 0.5
            q[sym] = g.forward_with_joints(z, y).joint_angles  # (B, J, T)
    for sym, expected in ((True, True), (False, False)):
        mirrored = [
            torch.allclose(
                q[sym][:, j, c + 1 : c + 50], q[sym][:, j, c - 49 : c].flip(-1), atol=1e-4
            )
            for j, c in enumerate(centre.tolist())
        ]
        assert all(mirrored) is expected, (sym, mirrored)
    assert (q[True][..., 1:] - q[True][..., :-1]).abs().amax() > 1e-3  # the joints move
    gens[True](z, y).pow(2).mean().backward()
    assert gens[True].harmonic_head.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError) as err:
        validate_config(apply_overrides(GANConfig(), ["model.joint_symmetric=true"]))
    assert err.value.field == "model.joint_symmetric"
    cfg = ModelConfig(generator="kinematic", joint_harmonics=3, joint_symmetric=True)
    assert build_generator(cfg, 6, 250, 7).joint_symmetric


def test_repetition_critic_sees_lags_up_to_the_seconds_asked_and_its_gradient_reaches_x(caplog):
    from imusynth.models.spectral import RepetitionCritic1d, autocorrelation
    from imusynth.train.build import build_discriminator

    def critics(seconds, rate=50.0, length=250):
        cfg = ModelConfig(d_stft=0, d_repeat_seconds=seconds)
        d = build_discriminator(cfg, 6, 7, sampling_rate_hz=rate, length=length)
        return [c for c in getattr(d, "spectral_critics", []) if isinstance(c, RepetitionCritic1d)]

    assert critics(0.0) == []
    assert [c.max_lag for c in critics(3.0)] == [150]
    assert [c.max_lag for c in critics(3.0, rate=20.0)] == [60]
    with caplog.at_level(logging.WARNING, logger="imusynth.train.build"):
        assert [c.max_lag for c in critics(3.0, length=100)] == [100]  # at most the window
    assert "longer than the 100-sample window" in caplog.text
    d = critics(3.0)[0]
    x = torch.randn(4, 6, 250, requires_grad=True)
    d(x, torch.tensor([0, 1, 2, 6])).sum().backward()
    assert x.grad.abs().sum() > 0
    # a window that repeats every 40 samples correlates with itself there, noise does not
    t = torch.arange(250.0)
    ac = autocorrelation(
        torch.stack([torch.sin(2 * torch.pi * t / 40), torch.randn(250)])[None], 60
    )
    assert ac[0, 0, 40] > 0.7 and ac[0, 1, 30:].abs().max() < 0.3
    with pytest.raises(ConfigError) as err:
        validate_config(apply_overrides(GANConfig(), ["model.d_repeat_seconds=-1"]))
    assert err.value.field == "model.d_repeat_seconds"


def test_the_asymmetry_tells_a_movement_from_itself_played_backwards():
    from imusynth.models.spectral import RepetitionCritic1d, autocorrelation, time_asymmetry

    g = torch.Generator().manual_seed(0)
    t = torch.arange(250.0)
    # Quick rise, slow fall (a lift and a lowering at other speeds), plus noise, and the same
    # window played backwards.
    phase = (t % 50) / 50
    lift = torch.where(phase < 0.3, phase / 0.3, (1 - phase) / 0.7)
    x = (lift + 0.05 * torch.randn(250, generator=g))[None, None]
    back = x.flip(-1)
    # Autocorrelation is blind to the direction, the asymmetry flips its sign.
    assert torch.allclose(autocorrelation(x, 60), autocorrelation(back, 60), atol=1e-5)
    a, b = time_asymmetry(x, 60), time_asymmetry(back, 60)
    assert a[0, 0, 5:20].abs().min() > 0.05  # (0 again at half the 50-sample period)
    assert torch.allclose(a, -b, atol=1e-5)
    # White noise (on average over windows) and a sine are symmetric.
    noise = time_asymmetry(torch.randn(256, 1, 250, generator=g), 60).mean(0)
    assert noise.abs().max() < 0.05
    assert time_asymmetry(torch.sin(2 * torch.pi * t / 40)[None, None], 60).abs().max() < 0.15

    cfg = ModelConfig(d_stft=0, d_repeat_seconds=3.0, d_repeat_asymmetry=True)
    d = build_discriminator(cfg, 6, 7, sampling_rate_hz=50.0, length=250)
    critic = d.spectral_critics[0]
    assert isinstance(critic, RepetitionCritic1d) and critic.asymmetry
    assert critic.blocks[0].weight.shape[1] == 12  # autocorrelations and asymmetries
    w = torch.randn(4, 6, 250, requires_grad=True)
    y = torch.tensor([0, 1, 2, 6])
    d(w, y).sum().backward()
    assert w.grad.abs().sum() > 0
    plain = build_discriminator(
        ModelConfig(d_stft=0, d_repeat_seconds=3.0), 6, 7, sampling_rate_hz=50.0
    ).spectral_critics[0]
    critic.eval(), plain.eval()  # no spectral-norm power iteration between the two calls
    with torch.no_grad():  # it can score a window and its reversal apart, as before it could not
        assert (critic(w, y) - critic(w.flip(-1), y)).abs().min() > 1e-4
        assert torch.allclose(plain(w, y), plain(w.flip(-1), y), atol=1e-5)
    with pytest.raises(ConfigError) as err:
        validate_config(apply_overrides(GANConfig(), ["model.d_repeat_asymmetry=true"]))
    assert err.value.field == "model.d_repeat_asymmetry"


def test_joint_reversal_plays_backwards_the_windows_whose_own_last_latent_is_negative():
    kw = dict(latent_dim=8, embed_dim=8, width=16, n_blocks=2, joint_harmonics=2)
    plain = KinematicGenerator(6, 100, 3, sensor_noise_bands=4, **kw)
    rev = KinematicGenerator(6, 100, 3, sensor_noise_bands=4, joint_reversal=True, **kw)
    rev.load_state_dict(plain.state_dict())
    plain.eval(), rev.eval()
    assert rev.latent_dim == plain.latent_dim + 1  # one coordinate of its own
    z = torch.randn(8, plain.latent_dim, generator=torch.Generator().manual_seed(0))
    sign = torch.tensor([-1.0] * 4 + [1.0] * 4)[:, None]
    y = torch.arange(8) % 3
    with torch.no_grad():
        a, b = plain.forward_with_joints(z, y), rev.forward_with_joints(torch.cat([z, sign], 1), y)
    assert torch.equal(b.joint_angles[:4], a.joint_angles[:4].flip(-1))
    assert torch.equal(b.residual[:4], a.residual[:4].flip(-1))
    assert torch.equal(b.joint_angles[4:], a.joint_angles[4:])
    assert torch.equal(b.x[4:], a.x[4:])  # the trunk and the noise never read that coordinate
    assert not torch.allclose(b.x[:4], a.x[:4])  # the arm measured the reversed paths
    # ... and what it measures of a path played backwards is the movement backwards: the
    # same accelerations in reverse order, the angular rates reversed and negated.
    q = a.joint_angles[:2].double()
    fwd, back = rev.arm.double()(q, rev.fs), rev.arm.double()(q.flip(-1), rev.fs)
    inner = slice(5, -5)  # away from the ends, where the time derivatives are one-sided
    assert torch.allclose(back.acc.flip(-1)[..., inner], fwd.acc[..., inner], atol=1e-6)
    assert torch.allclose(back.gyro.flip(-1)[..., inner], -fwd.gyro[..., inner], atol=1e-6)
    cfg = apply_overrides(GANConfig(), ["model.generator=kinematic", "model.joint_reversal=true"])
    g = build_generator(cfg.model, 6, 100, 3, sampling_rate_hz=50.0)
    assert g.joint_reversal

"""GAN networks: shapes, conditioning, the kinematic generator's physics, building from config."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

from imusynth.errors import ConfigError
from imusynth.kinematics.arm import ArmModel
from imusynth.models.blocks import GeneratorTrunk1d, MinibatchStd, seeded
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.models.kinematic import KinematicGenerator
from imusynth.train import build
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.config import ModelConfig

SMALL = dict(width=32, n_blocks=2)


@pytest.mark.parametrize("length", [32, 50, 250])
def test_conv1d_generator_shape_any_length(length):
    g = Conv1dGenerator(6, length, 3, **SMALL)
    x = g(torch.randn(5, g.latent_dim), torch.tensor([0, 1, 2, 0, 1]))
    assert x.shape == (5, 6, length)
    assert torch.isfinite(x).all()


def test_conv1d_generator_is_conditioned_on_class_and_side():
    torch.manual_seed(0)
    g = Conv1dGenerator(6, 32, 3, n_sides=2, **SMALL)
    z = torch.randn(1, g.latent_dim).expand(3, -1)
    by_class = g(z, torch.tensor([0, 1, 2]), torch.tensor([1, 1, 1]))
    assert not torch.allclose(by_class[0], by_class[1])
    assert not torch.allclose(by_class[1], by_class[2])
    by_side = g(z[:2], torch.tensor([1, 1]), torch.tensor([0, 1]))
    assert not torch.allclose(by_side[0], by_side[1])
    # Group norm, not batch norm: a sample does not depend on the rest of its batch.
    alone = g(z[:1], torch.tensor([0]), torch.tensor([1]))
    torch.testing.assert_close(alone[0], by_class[0])


def test_noise_maps_ride_in_z_and_add_broadband_detail():
    torch.manual_seed(0)
    g = Conv1dGenerator(6, 50, 2, latent_dim=8, noise_channels=2, **SMALL)
    full = g.trunk.full_length
    assert full >= 50 and g.latent_dim == 8 + 2 * full
    z = torch.randn(1, g.latent_dim).repeat(3, 1)
    z[1, 8:] = torch.randn(2 * full)  # same global latent, other noise maps
    y = torch.tensor([0, 0, 0])
    out = g(z, y)
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(out[0], out[2])  # a pure function of z
    # Broadband: noise maps change the fast components as much as the slow ones.
    diff = torch.fft.rfft(out[0] - out[1], dim=-1).abs()
    assert diff[:, 10:].mean() > 0.3 * diff[:, :3].mean()
    with torch.no_grad():
        g.trunk.blocks[-1].noise.weight.zero_()
    out = g(z, y)
    torch.testing.assert_close(out[0], out[1])  # no other path for the noise maps


def test_unconditional_models_take_none():
    g = Conv1dGenerator(3, 32, 0, **SMALL)
    d = ProjectionDiscriminator1d(3, 0, width=8, n_blocks=2)
    x = g(torch.randn(4, g.latent_dim), None)
    assert x.shape == (4, 3, 32)
    assert d(x, None).shape == (4,)


def test_conditional_generator_without_labels_is_an_error():
    g = Conv1dGenerator(6, 32, 3, **SMALL)
    with pytest.raises(ValueError, match="conditional"):
        g(torch.randn(2, g.latent_dim), None)


def test_projection_discriminator_outputs_and_conditioning():
    torch.manual_seed(0)
    d = ProjectionDiscriminator1d(6, 4, width=8, n_blocks=3)
    x = torch.randn(2, 6, 64)
    a = d(x, torch.tensor([0, 0]))
    b = d(x, torch.tensor([3, 3]))
    assert a.shape == (2,)
    assert not torch.allclose(a, b)  # the label enters through the projection
    diff = ProjectionDiscriminator1d(6, 4, width=8, n_blocks=3, diff_input=True)
    assert diff.blocks[0].conv.in_channels == 12 and diff(x, torch.tensor([0, 1])).shape == (2,)
    ac = ProjectionDiscriminator1d(6, 4, width=8, n_blocks=3, ac_head=True)
    adv, cls = ac(x, torch.tensor([0, 1]))
    assert adv.shape == (2,) and cls.shape == (2, 4)


def test_both_1d_critics_project_class_and_side_under_the_checkpoint_names():
    from imusynth.models.spectral import STFTDiscriminator1d

    x, y, side = torch.randn(2, 6, 64), torch.tensor([0, 2]), torch.tensor([1, 0])
    for d in (
        ProjectionDiscriminator1d(6, 3, width=8, n_sides=2),
        STFTDiscriminator1d(6, 3, n_sides=2),
    ):
        # Saved checkpoints name these parameters.
        head = [k.split(".parametrizations")[0] for k in d.state_dict() if k.endswith("original")]
        assert head[-3:] == ["adv", "embed.classes", "embed.sides"]
        assert not torch.equal(d(x, y, side), d(x, y, 1 - side))
        assert not torch.equal(d(x, y, side), d(x, y.flip(0), side))
    for d in (ProjectionDiscriminator1d(6, 0, width=8), STFTDiscriminator1d(6, 0)):
        assert d(x).shape == (2,) and d.embed.dim == 0


def test_spectral_norm_bounds_the_layer_gain():
    torch.manual_seed(0)
    d = ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2, spectral_norm=True)
    d.train()
    for _ in range(30):  # power iterations converge during training-mode forwards
        d(torch.randn(4, 6, 32), torch.tensor([0, 1, 0, 1]))
    w = d.blocks[0].conv.weight  # the normalised weight
    sigma = torch.linalg.matrix_norm(w.detach().flatten(1), ord=2)
    assert float(sigma) == pytest.approx(1.0, abs=0.05)
    plain = ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2, spectral_norm=False)
    assert not hasattr(plain.blocks[0].conv, "parametrizations")


def test_kinematic_generator_shapes_and_joint_limits():
    g = KinematicGenerator(6, 64, 3, n_sides=2, **SMALL)
    with torch.no_grad():  # drive the joint head hard: angles must still stay in range
        g.joint_head.weight.mul_(200.0)
    out = g.forward_with_joints(
        torch.randn(4, g.latent_dim), torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 0, 1])
    )
    assert out.x.shape == (4, 6, 64)
    assert out.joint_angles.shape == (4, len(g.joint_names), 64)
    lim = g.joint_limits
    assert (out.joint_angles >= lim[None, :, :1] - 1e-6).all()
    assert (out.joint_angles <= lim[None, :, 1:] + 1e-6).all()
    assert g.joint_names == ArmModel().joint_names


def test_kinematic_generator_matches_the_arm_model_per_side_and_mount():
    torch.manual_seed(0)
    g = KinematicGenerator(6, 50, 2, n_sides=2, residual=False, **SMALL)
    with torch.no_grad():
        torch.nn.init.normal_(g.mount_head.weight, 0.0, 0.5)
    side = torch.tensor([0, 1, 0, 1])
    out = g.forward_with_joints(torch.randn(4, g.latent_dim), torch.tensor([0, 1, 1, 0]), side)
    assert out.mount.abs().max() > 0.05  # a non-trivial mount is exercised
    for i, s in enumerate(side.tolist()):
        arm = ArmModel(side="left" if s == 0 else "right")
        ref = arm(out.joint_angles[i : i + 1], 50.0, mount=out.mount[i : i + 1]).imu
        torch.testing.assert_close(out.x[i : i + 1], ref, atol=1e-4, rtol=1e-4)


def test_kinematic_generator_normalises_with_the_fitted_statistics():
    mean, scale = np.arange(6, dtype=float), np.full(6, 2.0)
    with seeded(0):
        plain = KinematicGenerator(6, 32, 2, residual=False, **SMALL)
    with seeded(0):
        normed = KinematicGenerator(
            6, 32, 2, residual=False, channel_mean=mean, channel_scale=scale, **SMALL
        )
    z, y = torch.randn(3, plain.latent_dim), torch.tensor([0, 1, 0])
    expect = (plain(z, y) - torch.tensor(mean, dtype=torch.float32)[:, None]) / 2.0
    torch.testing.assert_close(normed(z, y), expect)


def _power_above(x: torch.Tensor, hz: float, fs: float) -> float:
    p = torch.fft.rfft(x - x.mean(-1, keepdim=True), dim=-1).abs() ** 2
    f = torch.fft.rfftfreq(x.shape[-1], 1.0 / fs)
    return float(p[..., f > hz].sum() / p.sum())


def test_kinematic_joint_angles_are_band_limited():
    torch.manual_seed(0)
    g = KinematicGenerator(6, 100, 2, joint_stride=5, **SMALL)
    with torch.no_grad():
        g.joint_head.weight.normal_(0.0, 0.3)  # rough raw output
    z, y = torch.randn(4, g.latent_dim), torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        raw = g.joint_head(g.trunk(z, y))  # (B, J, T) before smoothing and squashing
        q = g.forward_with_joints(z, y).joint_angles
    # Proposed at 10 Hz and Hann-smoothed: almost no power above 6 Hz, whose second
    # derivative would dominate the accelerometer.
    assert _power_above(q, 6.0, 50.0) < 0.03
    assert _power_above(q, 6.0, 50.0) < _power_above(raw, 6.0, 50.0) / 3


def test_kinematic_residual_penalty():
    g = KinematicGenerator(6, 32, 2, **SMALL)
    z, y = torch.randn(2, g.latent_dim), torch.tensor([0, 1])
    g(z, y)
    assert 0.0 < float(g.penalty().detach()) < 0.01  # nearly kinematic at first
    with torch.no_grad():
        g.residual_head.weight.zero_()
        g.residual_head.bias.fill_(0.5)
    g(z, y)
    assert float(g.penalty().detach()) == pytest.approx(0.25)
    assert float(g.penalty().detach()) == 0.0  # consumed: the penalty belongs to one forward


def test_sample_with_joints_is_seeded():
    g = KinematicGenerator(6, 32, 2, **SMALL)
    y = torch.tensor([0, 1])
    a = g.sample_with_joints(2, y, seed=3).joint_angles
    b = g.sample_with_joints(2, y, seed=3).joint_angles
    c = g.sample_with_joints(2, y, seed=4).joint_angles
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_build_from_config_is_seeded_and_leaves_the_global_rng_alone():
    cfg = ModelConfig(g_width=32, g_blocks=2, d_width=8, d_blocks=2)
    state = torch.get_rng_state()
    g1 = build_generator(cfg, 6, 32, 3, seed=5)
    g2 = build_generator(cfg, 6, 32, 3, seed=5)
    g3 = build_generator(cfg, 6, 32, 3, seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    for (k, a), b in zip(g1.state_dict().items(), g2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert not torch.equal(g1.head.weight, g3.head.weight)
    d = build_discriminator(cfg, 6, 3, n_sides=2, seed=5)
    assert d.n_sides == 2
    k = build_generator(
        ModelConfig(generator="kinematic", g_width=32, g_blocks=2), 6, 32, 3, n_sides=2
    )
    assert isinstance(k, KinematicGenerator) and k.n_sides == 2


@pytest.mark.parametrize(
    ("network", "same", "renamed"),
    [
        (GeneratorTrunk1d, build.TRUNK_FIELDS, build.TRUNK_RENAMED),
        (ProjectionDiscriminator1d, build.TIME_CRITIC_FIELDS, build.TIME_CRITIC_RENAMED),
        (KinematicGenerator, build.KINEMATIC_FIELDS, {}),
    ],
)
def test_the_config_fields_the_builders_pass_are_config_fields_and_network_arguments(
    network, same, renamed
):
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    arguments = set(inspect.signature(network).parameters)
    assert set(same) | set(renamed.values()) <= fields
    assert set(same) | set(renamed) <= arguments


def test_build_passes_the_config_fields_to_the_networks():
    cfg = ModelConfig(
        generator="kinematic", g_width=16, g_blocks=2, latent_dim=8, noise_channels=0,
        d_width=8, d_blocks=3, mount_max_deg=7.0, joint_harmonics=2, d_diff_input=True,
    )  # fmt: skip
    g = build_generator(cfg, 6, 64, 3)
    assert g.trunk.latent_dim == 8 and len(g.trunk.blocks) == 2
    assert g.mount_max == pytest.approx(np.radians(7.0))
    assert g.harmonic_head.out_features == len(g.joint_names) * 4 + 1  # 2 x 2 harmonics
    d = build_discriminator(cfg, 6, 3)
    convs = [m for m in d.blocks if not isinstance(m, MinibatchStd)]
    assert d.diff_input and len(convs) == 3 and convs[0].conv.in_channels == 12  # 6 + 6 diffs


def test_build_unknown_generator_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model\.generator"):
        build_generator(ModelConfig(generator="transformer"), 6, 32, 3)


def test_kinematic_sensor_noise_rides_in_z_and_starts_at_the_given_level():
    plain = KinematicGenerator(6, 64, 2, **SMALL, residual=False)
    level = np.array([0.1, 0.2, 0.1, 0.4, 0.1, 0.1], dtype=np.float32)
    g = KinematicGenerator(
        6, 64, 2, **SMALL, residual=False, sensor_noise_taps=5, sensor_noise_std=level
    )
    assert g.latent_dim == plain.latent_dim + 6 * (64 + 5 - 1)
    missing = g.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["sensor_gain.bias", "sensor_gain.weight", "sensor_taps"]
    y = torch.zeros(256, dtype=torch.long)
    z = torch.randn(256, g.latent_dim)
    with torch.no_grad():
        smooth = plain(z[:, : plain.latent_dim], y)
        noisy = g(z, y)
        again = g(z, y)
    assert torch.equal(noisy, again)  # a pure function of z: seeded sampling stays exact
    added = noisy - smooth  # the noise stage alone: white at the given std per channel
    np.testing.assert_allclose(added.std(dim=(0, 2)).numpy(), level, rtol=0.05)
    assert _power_above(added, 12.5, 50.0) > 0.4  # white: half its power above fs/4
    assert _power_above(smooth, 12.5, 50.0) < 0.05
    # The noise shape is learned: gradients reach the taps and the per-sample gain.
    g(z[:8], y[:8]).pow(2).mean().backward()
    assert g.sensor_taps.grad.abs().sum() > 0 and g.sensor_gain.weight.grad.abs().sum() > 0


def test_sensor_noise_taps_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        KinematicGenerator(6, 32, 2, **SMALL, sensor_noise_taps=4)


@pytest.mark.parametrize("width", [8, 16])
def test_generators_narrower_than_32_channels_build_and_run(width):
    for cls in (Conv1dGenerator, KinematicGenerator):
        g = cls(6, 40, 2, width=width, n_blocks=2)
        assert g(torch.randn(3, g.latent_dim), torch.tensor([0, 1, 1])).shape == (3, 6, 40)


@pytest.mark.parametrize("taps", [-1, 4])
def test_config_rejects_bad_sensor_noise_taps(taps):
    from imusynth.train.config import GANConfig, apply_overrides, validate_config

    cfg = apply_overrides(GANConfig(), [f"model.sensor_noise_taps={taps}"])
    with pytest.raises(ConfigError, match=r"model\.sensor_noise_taps"):
        validate_config(cfg)


def test_old_build_path_is_a_deprecated_alias():
    import imusynth.models.build as old
    from imusynth.train import build

    with pytest.warns(DeprecationWarning, match="imusynth.train.build"):
        assert old.build_generator is build.build_generator

"""The arm model without gravity and with the sensor on the upper arm."""

from __future__ import annotations

import math

import pytest
import torch

from imusynth.errors import ConfigError
from imusynth.kinematics import ArmModel, time_derivative

FS = 50.0
ELBOW, PRONATION = 5, 6  # positions in ArmModel(trunk=True).joint_names


def _motion(model: ArmModel, n_t: int = 60, seed: int = 0) -> torch.Tensor:
    """(4, J, T) smooth motion about a mid-range pose, float64."""
    gen = torch.Generator().manual_seed(seed)
    lim = model.joint_limits
    base = (lim[:, 0] + 0.5 * (lim[:, 1] - lim[:, 0]))[None, :, None] * 0.5
    t = torch.arange(n_t, dtype=torch.float64) / FS
    freq = 0.3 + 0.5 * torch.rand(4, model.num_joints, 1, generator=gen, dtype=torch.float64)
    return base + 0.4 * torch.sin(2 * math.pi * freq * t)


@pytest.mark.parametrize("segment", ["forearm", "upper_arm"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_without_gravity_the_accelerometer_reads_linear_acceleration(side, segment):
    with_g = ArmModel(side, segment=segment).double()
    without = ArmModel(side, segment=segment, gravity=False).double()
    q = _motion(with_g)
    a, b = with_g(q, FS), without(q, FS)
    # Specific force = linear acceleration + "up" in the sensor frame (1 g).
    diff = a.acc - b.acc
    assert torch.allclose(diff.norm(dim=1), torch.ones_like(diff[:, 0]), atol=1e-9)
    assert torch.allclose(a.gyro, b.gyro)
    # At rest: 1 g with gravity, nothing without it.
    rest = q[:, :, :1].expand(-1, -1, 20)
    assert torch.allclose(without(rest, FS).acc, torch.zeros(4, 3, 20, dtype=q.dtype), atol=1e-9)
    assert torch.allclose(with_g(rest, FS).acc.norm(dim=1), torch.ones(4, 20, dtype=q.dtype))


def test_upper_arm_sensor_reads_like_the_watch_with_the_arm_hanging():
    for segment in ("forearm", "upper_arm"):
        model = ArmModel(segment=segment).double()
        out = model(torch.zeros(1, model.num_joints, 12, dtype=torch.float64), FS)
        assert torch.allclose(out.acc[0, :, 0], torch.tensor([-1.0, 0.0, 0.0], dtype=out.acc.dtype))


def test_elbow_and_forearm_move_the_watch_but_not_the_upper_arm_sensor():
    watch, band = ArmModel().double(), ArmModel(segment="upper_arm").double()
    q = _motion(watch)
    q_still = q.clone()
    q_still[:, ELBOW] = q[:, ELBOW, :1]  # elbow and forearm held still
    q_still[:, PRONATION] = q[:, PRONATION, :1]
    # The watch sees the elbow and forearm turn ...
    assert (watch(q, FS).gyro - watch(q_still, FS).gyro).abs().max() > 0.1
    # The upper-arm sensor does not see the elbow and forearm joints at all.
    moving, still = band(q, FS), band(q_still, FS)
    assert torch.allclose(moving.acc, still.acc, atol=1e-12)
    assert torch.allclose(moving.gyro, still.gyro, atol=1e-12)
    assert moving.gyro.abs().max() > 0.1  # but it does see the shoulder and trunk
    assert not torch.allclose(watch(q, FS).acc, moving.acc, atol=1e-3)


@pytest.mark.parametrize("side", ["right", "left"])
def test_upper_arm_joint_axes_reproduce_its_gyroscope(side):
    model = ArmModel(side, segment="upper_arm").double()
    q = _motion(model, seed=3)
    axes, up = model.joint_axes(q)  # (B, J, 3, T)
    qdot = time_derivative(q, FS, 1)
    assert torch.allclose((axes * qdot[:, :, None]).sum(1), model(q, FS).gyro)
    assert axes[:, ELBOW:].abs().max() == 0  # the joints distal to the sensor
    static = model(q[:, :, :1].expand(-1, -1, 12), FS).acc[:, :, 0]
    assert torch.allclose(up[:, :, 0], static, atol=1e-9)


def test_upper_arm_sensor_sits_on_the_humerus():
    model = ArmModel(segment="upper_arm").double()
    q = _motion(model)
    points = model(q, FS).points  # (B, P, 3, T): hip, neck, shoulder, elbow, wrist, sensor
    shoulder, elbow, sensor = points[:, 2], points[:, 3], points[:, 5]
    axis = (elbow - shoulder) / (elbow - shoulder).norm(dim=1, keepdim=True)
    along = ((sensor - shoulder) * axis).sum(1)  # (B, T) distance down the humerus
    geo = model.geometry
    assert torch.allclose(along, torch.full_like(along, geo.upper_arm_sensor_distance))
    off = (sensor - shoulder - along[:, None] * axis).norm(dim=1)
    assert torch.allclose(off, torch.full_like(off, geo.upper_arm_sensor_height))


def test_unknown_segment_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        ArmModel(segment="hip")
    assert info.value.field == "segment"

"""Rotations, the arm model and its time derivatives (issue 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from imusynth.errors import ConfigError, DataError
from imusynth.kinematics import ArmGeometry, ArmModel, time_derivative
from imusynth.kinematics.rotations import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_matrix,
    skew,
    vee,
)

FS = 50.0


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These tensors are small: extra OpenMP threads only spin-wait on a busy shared machine
    # (20x slower here); restore the setting for the rest of the session.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_pose(model: ArmModel, batch: int, gen: torch.Generator) -> torch.Tensor:
    """(B, J) joint angles drawn uniformly inside the joint limits (float64)."""
    lim = model.joint_limits
    u = torch.rand(batch, model.num_joints, generator=gen, dtype=torch.float64)
    return lim[:, 0] + u * (lim[:, 1] - lim[:, 0])


def _smooth_motion(model: ArmModel, batch: int, n_t: int, fs: float, gen: torch.Generator):
    """(B, J, T) smooth random trajectories (a few slow sinusoids about a random pose)."""
    t = torch.arange(n_t, dtype=torch.float64) / fs
    base = _random_pose(model, batch, gen)[:, :, None] * 0.6
    freq = 0.2 + 0.6 * torch.rand(batch, model.num_joints, 1, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(batch, model.num_joints, 1, generator=gen, dtype=torch.float64)
    return base + 0.5 * torch.sin(2 * math.pi * freq * t + phase)


# ----------------------------------------------------------------------------- rotations


def test_rotations_agree_with_scipy():
    rng = np.random.default_rng(0)
    rotvec = rng.normal(size=(64, 3)) * 1.2
    rotvec[0] = 0.0  # identity
    rotvec[1] = [math.pi, 0, 0]  # 180 degrees: Shepperd's branch switch
    rotvec[2] = [1e-5, -2e-5, 3e-5]  # small-angle series
    ref = Rotation.from_rotvec(rotvec)
    mats = axis_angle_to_matrix(torch.from_numpy(rotvec))
    np.testing.assert_allclose(mats.numpy(), ref.as_matrix(), atol=1e-12)

    quat = matrix_to_quaternion(mats).numpy()
    ref_quat = ref.as_quat()
    ref_quat *= np.where(ref_quat[:, 3:] < 0, -1, 1)  # same w >= 0 canonical form
    np.testing.assert_allclose(np.abs(quat[1]), np.abs(ref_quat[1]), atol=1e-12)  # sign at pi
    np.testing.assert_allclose(quat[2:], ref_quat[2:], atol=1e-12)
    np.testing.assert_allclose(
        quaternion_to_matrix(torch.from_numpy(ref.as_quat())).numpy(), ref.as_matrix(), atol=1e-12
    )
    back = matrix_to_axis_angle(mats).numpy()
    np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), ref.as_matrix(), atol=1e-10)
    np.testing.assert_allclose(back[2:], ref[2:].as_rotvec(), atol=1e-10)

    angles = rng.uniform(-3, 3, size=(16, 3))
    for seq in ("YXY", "ZXY", "xyz", "zyx"):
        ours = euler_to_matrix(torch.from_numpy(angles), seq).numpy()
        np.testing.assert_allclose(
            ours, Rotation.from_euler(seq, angles).as_matrix(), atol=1e-12, err_msg=seq
        )
    with pytest.raises(ValueError):
        euler_to_matrix(torch.zeros(3), "YxY")


def test_skew_vee_and_rotation_gradients():
    v = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    u = torch.tensor([[-0.7, 0.1, 0.4]], dtype=torch.float64)
    assert torch.allclose((skew(v) @ u[..., None])[..., 0], torch.cross(v, u, dim=-1))
    assert torch.allclose(vee(skew(v)), v)
    for start in (torch.zeros(1, 3), torch.tensor([[0.4, -0.3, 1.1]])):
        x = start.to(torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (x,))
    r = axis_angle_to_matrix(torch.tensor([[0.4, -0.3, 1.1]], dtype=torch.float64))
    assert torch.autograd.gradcheck(matrix_to_axis_angle, (r.requires_grad_(True),))


# ----------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("freq", [0.5, 1.0])
def test_derivatives_are_accurate_at_the_window_ends(freq):
    # Repetition rates of the watch exercises are 0.4-1.2 Hz. The first and last samples,
    # where one-sided differences usually fail, are held to the same standard as the rest.
    t = torch.arange(250, dtype=torch.float64) / FS
    w = 2 * math.pi * freq
    for phase in (0.0, 0.7, 1.9):
        x = torch.sin(w * t + phase)
        err1 = (time_derivative(x, FS, 1) - w * torch.cos(w * t + phase)).abs() / w
        err2 = (time_derivative(x, FS, 2) + w * w * torch.sin(w * t + phase)).abs() / w**2
        assert err1.max() < 1e-3
        assert err2.max() < 1.5e-2
        assert err2[5:-5].max() < 2e-4  # interior


def test_derivative_does_not_amplify_sampling_noise():
    noise = torch.tensor([1.0, -1.0] * 125, dtype=torch.float64)  # Nyquist, the worst case
    # A central second difference gives 4 fs^2 here; the smoothing differentiator far less.
    assert time_derivative(noise, FS, 2)[4:-4].abs().max() < 0.5 * 4 * FS**2
    assert time_derivative(noise, FS, 2).abs().max() < 4 * FS**2
    # Short windows fall back to one polynomial and stay exact for polynomials.
    t = torch.arange(5, dtype=torch.float64) / FS
    assert torch.allclose(time_derivative(t**3, FS, 2), 6 * t)
    with pytest.raises(ConfigError):
        time_derivative(t, FS, 1, window=8)


# ----------------------------------------------------------------------------- arm model


def test_model_api_and_conventions():
    model = ArmModel()
    assert model.joint_names == (
        "trunk_flexion",
        "trunk_lateral",
        "shoulder_plane",
        "shoulder_elevation",
        "shoulder_rotation",
        "elbow_flexion",
        "forearm_pronation",
    )
    assert model.joint_limits.shape == (7, 2)
    assert (model.joint_limits[:, 0] < model.joint_limits[:, 1]).all()
    assert ArmModel(trunk=False).joint_names == model.joint_names[2:]
    q = torch.zeros(1, 7, 20)
    # Arm hanging: watch x (toward the hand) points down on the right arm, up on the left;
    # elbow at 90 deg with the thumb up: y points up (the seglearn watch data reads the same).
    assert torch.allclose(model(q, FS).acc[0, :, 0], torch.tensor([-1.0, 0, 0]), atol=1e-5)
    assert torch.allclose(
        ArmModel("left")(q, FS).acc[0, :, 0], torch.tensor([1.0, 0, 0]), atol=1e-5
    )
    q[:, 5] = math.pi / 2
    assert torch.allclose(model(q, FS).acc[0, :, 0], torch.tensor([0.0, 1, 0]), atol=1e-5)
    with pytest.raises(DataError):
        model(torch.zeros(1, 5, 20), FS)
    with pytest.raises(ConfigError):
        ArmModel(side="middle")
    with pytest.raises(ConfigError):
        ArmModel(limits={"elbow_flexion": (1.0, 0.0)})
    with pytest.raises(ConfigError):
        ArmGeometry(forearm_length=-0.1)


@pytest.mark.parametrize("side", ["right", "left"])
def test_static_pose_reads_one_g_and_no_rotation(side):
    gen = torch.Generator().manual_seed(1)
    model = ArmModel(side).double()
    pose = _random_pose(model, 32, gen)
    q = pose[:, :, None].expand(-1, -1, 30)  # (B, J, T)
    mount = torch.randn(32, 3, generator=gen, dtype=torch.float64)
    out = model(q, FS, mount=mount)
    assert torch.allclose(out.acc.norm(dim=1), torch.ones(32, 30, dtype=torch.float64), atol=1e-9)
    assert out.gyro.abs().max() < 1e-9
    # The gravity direction is the world "up" seen in the sensor frame.
    up = out.orientation[..., 1, :].transpose(1, 2)  # (B, 3, T): row Y of world-from-sensor
    assert torch.allclose(out.acc, up, atol=1e-9)


@pytest.mark.parametrize("side", ["right", "left"])
def test_single_joint_at_constant_rate_reads_that_rate(side):
    gen = torch.Generator().manual_seed(2)
    model = ArmModel(side).double()
    n_t, rate = 40, 1.3
    t = torch.arange(n_t, dtype=torch.float64) / FS
    pose = _random_pose(model, model.num_joints, gen) * 0.5
    q = pose[:, :, None].repeat(1, 1, n_t)  # one window per joint, (J, J, T)
    for j in range(model.num_joints):
        q[j, j] = pose[j, j] + rate * t
    gyro = model(q, FS).gyro  # (J, 3, T)
    assert torch.allclose(
        gyro.norm(dim=1), torch.full((model.num_joints, n_t), rate, dtype=q.dtype)
    )


def _integrate_gravity(acc: torch.Tensor, gyro: torch.Tensor, fs: float) -> torch.Tensor:
    """Propagate the first gravity direction with the gyroscope: dg/dt = g x w (body frame)."""
    g = acc[:, :, 0] / acc[:, :, 0].norm(dim=1, keepdim=True)  # (B, 3)
    out = [g]
    for k in range(acc.shape[-1] - 1):
        w = 0.5 * (gyro[:, :, k] + gyro[:, :, k + 1]) / fs  # midpoint rotation vector
        g = (axis_angle_to_matrix(w).transpose(1, 2) @ g[..., None])[..., 0]
        out.append(g)
    return torch.stack(out, dim=-1)  # (B, 3, T)


def test_accelerometer_and_gyroscope_agree():
    gen = torch.Generator().manual_seed(3)
    fs = 100.0
    # With every length zero the sensor does not translate: acc is exactly the gravity
    # direction, so integrating the gyroscope must reproduce it to integration accuracy.
    zero = ArmGeometry(*(0.0,) * 6)
    for side in ("right", "left"):
        model = ArmModel(side, geometry=zero).double()
        q = _smooth_motion(model, 4, 300, fs, gen)
        mount = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        out = model(q, fs, mount=mount)
        pred = _integrate_gravity(out.acc, out.gyro, fs)
        assert (pred - out.acc).norm(dim=1).max() < 5e-3  # 0.3 deg after 3 s
    # Quasi-static motion of a full-size arm (0.1 Hz, 0.5 rad swings of every joint):
    # gravity turns by tens of degrees in the watch frame and the gyroscope tracks it.
    model = ArmModel().double()
    t = torch.arange(1000, dtype=torch.float64) / fs
    base = 0.6 * _random_pose(model, 4, gen)[:, :, None]
    q = base + 0.5 * torch.sin(2 * math.pi * 0.1 * t + torch.arange(7.0)[:, None])
    out = model(q, fs)
    pred = _integrate_gravity(out.acc, out.gyro, fs)
    unit = out.acc / out.acc.norm(dim=1, keepdim=True)
    angle = torch.arccos((pred * unit).sum(1).clamp(-1, 1))
    turned = torch.arccos((unit * unit[:, :, :1]).sum(1).clamp(-1, 1))
    assert turned.max() > math.radians(30)
    assert angle.max() < math.radians(2)


def test_gradcheck_through_the_whole_model():
    gen = torch.Generator().manual_seed(4)
    model = ArmModel("left").double()
    q = (0.5 * torch.randn(2, 7, 12, generator=gen, dtype=torch.float64)).requires_grad_(True)
    mount = (0.3 * torch.randn(2, 3, generator=gen, dtype=torch.float64)).requires_grad_(True)
    forearm = torch.tensor([0.25, 0.27], dtype=torch.float64, requires_grad=True)

    def f(q, mount, forearm):
        out = model(
            q,
            FS,
            mount=mount,
            geometry={"forearm_length": forearm, "sensor_distance": forearm * 0.9},
        )
        return out.acc, out.gyro

    assert torch.autograd.gradcheck(f, (q, mount, forearm))


def test_mirroring_left_is_the_reflected_right():
    gen = torch.Generator().manual_seed(5)
    right, left = ArmModel("right").double(), ArmModel("left").double()
    q = _smooth_motion(right, 3, 60, FS, gen)
    r, l_ = right(q, FS), left(q, FS)
    sign_acc = torch.tensor([-1.0, 1, 1], dtype=q.dtype)[:, None]
    assert torch.allclose(l_.acc, r.acc * sign_acc)
    assert torch.allclose(l_.gyro, -r.gyro * sign_acc)  # a pseudovector: (wx, -wy, -wz)
    assert torch.allclose(l_.points[:, :, 2], -r.points[:, :, 2])
    assert torch.allclose(l_.points[:, :, :2], r.points[:, :, :2])
    rest = torch.zeros(1, 7, 10)
    assert (
        left(rest.double(), FS).points[0, 2, 2, 0] < 0 < right(rest.double(), FS).points[0, 2, 2, 0]
    )
    assert torch.allclose(torch.linalg.det(l_.orientation), torch.ones(3, 60, dtype=q.dtype))


def test_mount_and_geometry_overrides():
    gen = torch.Generator().manual_seed(6)
    model = ArmModel().double()
    q = _smooth_motion(model, 2, 50, FS, gen)
    rotvec = torch.tensor([[0.0, 0.0, math.pi / 2], [0.2, -0.1, 0.4]], dtype=torch.float64)
    nominal, mounted = model(q, FS), model(q, FS, mount=rotvec)
    # Watch turned 90 deg about its face normal: new x = old y, new y = -old x.
    assert torch.allclose(mounted.acc[0, 0], nominal.acc[0, 1], atol=1e-12)
    assert torch.allclose(mounted.acc[0, 1], -nominal.acc[0, 0], atol=1e-12)
    as_matrix = model(q, FS, mount=axis_angle_to_matrix(rotvec))
    assert torch.allclose(as_matrix.gyro, mounted.gyro)
    with pytest.raises(DataError):
        model(q, FS, mount=torch.zeros(3, 3))
    # A longer forearm changes the accelerometer during motion but not the gyroscope.
    long = model(q, FS, geometry={"sensor_distance": torch.tensor([0.23, 0.35], dtype=q.dtype)})
    assert torch.allclose(long.gyro, nominal.gyro)
    assert torch.allclose(long.acc[0], nominal.acc[0])
    assert not torch.allclose(long.acc[1], nominal.acc[1], atol=1e-3)
    with pytest.raises(DataError):
        model(q, FS, geometry={"forearm_length": torch.ones(3)})


def test_float32_matches_float64_and_batches_are_independent():
    gen = torch.Generator().manual_seed(7)
    model = ArmModel()
    q64 = _smooth_motion(model, 4, 250, FS, gen)
    out64 = model.double()(q64, FS)
    out32 = model.float()(q64.float(), FS)
    assert out32.acc.dtype == torch.float32
    assert (out32.acc.double() - out64.acc).abs().max() < 1e-4
    assert (out32.gyro.double() - out64.gyro).abs().max() < 1e-4
    single = model.double()(q64[2:3], FS)
    assert torch.allclose(single.acc[0], out64.acc[2])


@pytest.mark.parametrize("side", ["right", "left"])
def test_joint_axes_reproduce_gyroscope_and_gravity(side):
    gen = torch.Generator().manual_seed(8)
    model = ArmModel(side).double()
    q = _smooth_motion(model, 2, 40, FS, gen)
    mount = 0.3 * torch.randn(2, 3, generator=gen, dtype=torch.float64)
    out = model(q, FS, mount=mount)
    axes, up = model.joint_axes(q, mount=mount)  # (B, J, 3, T), (B, 3, T)
    qdot = time_derivative(q, FS, 1)
    assert torch.allclose((axes * qdot[:, :, None]).sum(1), out.gyro)
    assert torch.allclose(axes.norm(dim=2), torch.ones(2, 7, 40, dtype=q.dtype))
    static = model(q[:, :, :1].expand(-1, -1, 12), FS, mount=mount).acc[:, :, 0]
    assert torch.allclose(up[:, :, 0], static, atol=1e-9)


def test_heading_is_unobservable_with_a_fixed_thorax():
    # Gravity and the sensor-frame readings do not change when the whole motion turns about
    # the vertical through the shoulder; in YXY' that is a constant added to the plane of
    # elevation. Inverse kinematics can therefore only recover the plane up to a constant.
    gen = torch.Generator().manual_seed(9)
    model = ArmModel(trunk=False).double()
    q = _smooth_motion(model, 2, 60, FS, gen)
    turned = q.clone()
    turned[:, 0] += 0.7
    a, b = model(q, FS), model(turned, FS)
    assert torch.allclose(a.acc, b.acc) and torch.allclose(a.gyro, b.gyro)
    assert not torch.allclose(a.points, b.points)

"""Classical augmenters: invariants, determinism, identity at zero strength, oversampling."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.augment import (
    Compose,
    Flip,
    ImageRotation,
    ImageScaling,
    Jitter,
    MagnitudeWarp,
    OneOf,
    Permutation,
    RandomApply,
    Rotation,
    Scaling,
    TimeWarp,
    Translation,
    WindowSlice,
    augment_to_counts,
    random_rotation_matrices,
    time_warp_paths,
)
from imusynth.errors import ConfigError, DataError


@pytest.fixture
def windows() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(10, 6, 40)).astype(np.float32)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(4).normal(size=(5, 1, 16, 16)).astype(np.float32)


SERIES = [
    Jitter(sigma=0.1),
    Scaling(sigma=0.2),
    MagnitudeWarp(sigma=0.2),
    TimeWarp(sigma=0.3),
    WindowSlice(ratio=0.8),
    Permutation(n_segments=4),
    Rotation(max_angle_deg=30),
    Compose([Scaling(0.1), RandomApply(Jitter(0.1), p=0.5)]),
    OneOf([TimeWarp(0.2), Permutation(3)], p=[0.3, 0.7]),
]
IMAGES = [Flip(), ImageRotation(90.0), Translation(3), ImageScaling(0.8, 1.25)]
IDENTITIES = [
    Jitter(sigma=0.0),
    Scaling(sigma=0.0),
    MagnitudeWarp(sigma=0.0),
    TimeWarp(sigma=0.0),
    WindowSlice(ratio=1.0),
    Permutation(n_segments=1),
    Rotation(max_angle_deg=0.0),
    RandomApply(Jitter(1.0), p=0.0),
]
IMAGE_IDENTITIES = [
    Flip(0.0, 0.0),
    ImageRotation(0.0),
    Translation(0),
    ImageScaling(1.0, 1.0),
]


@pytest.mark.parametrize("aug", SERIES, ids=lambda a: type(a).__name__)
def test_series_shape_dtype_determinism(aug, windows):
    before = windows.copy()
    a = aug(windows, np.random.default_rng(7))
    b = aug(windows, np.random.default_rng(7))
    c = aug(windows, np.random.default_rng(8))
    assert a.shape == windows.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, windows)
    np.testing.assert_array_equal(windows, before)  # the input is never modified


@pytest.mark.parametrize("aug", IMAGES, ids=lambda a: type(a).__name__)
def test_image_shape_dtype_determinism(aug, images):
    a = aug(images, np.random.default_rng(7))
    b = aug(images, np.random.default_rng(7))
    assert a.shape == images.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, images)


@pytest.mark.parametrize("aug", IDENTITIES, ids=lambda a: type(a).__name__)
def test_series_identity_at_zero_strength(aug, windows):
    np.testing.assert_allclose(aug(windows, np.random.default_rng(0)), windows, atol=1e-6)


@pytest.mark.parametrize("aug", IMAGE_IDENTITIES, ids=lambda a: type(a).__name__)
def test_image_identity_at_zero_strength(aug, images):
    np.testing.assert_array_equal(aug(images, np.random.default_rng(0)), images)


def test_accepts_float64_and_empty(windows):
    out = Jitter(0.1)(windows.astype(np.float64), np.random.default_rng(0))
    assert out.dtype == np.float32
    assert Rotation()(windows[:0], np.random.default_rng(0)).shape == (0, 6, 40)


def test_rotation_preserves_norms_and_shares_one_matrix(windows):
    X = windows.copy()
    X[:, 3:6] = X[:, 0:3]  # gyroscope = accelerometer: one shared matrix keeps them equal
    out = Rotation(max_angle_deg=40)(X, np.random.default_rng(1))
    for sl in (slice(0, 3), slice(3, 6)):
        np.testing.assert_allclose(
            np.linalg.norm(out[:, sl], axis=1), np.linalg.norm(X[:, sl], axis=1), rtol=1e-5
        )
    np.testing.assert_allclose(out[:, 3:6], out[:, 0:3], atol=1e-6)
    # Recover each window's map acc -> acc' by least squares: a proper rotation within 40°.
    for i in range(len(X)):
        R = np.linalg.lstsq(X[i, 0:3].T, out[i, 0:3].T, rcond=None)[0].T
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-4)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-4)
        angle = np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
        assert angle <= 40.0 + 1e-3
    assert not np.allclose(out[:, :3], X[:, :3])


def test_rotation_custom_triplets_leave_other_channels(windows):
    out = Rotation(max_angle_deg=90, triplets=[(1, 2, 3)])(windows, np.random.default_rng(0))
    np.testing.assert_array_equal(out[:, [0, 4, 5]], windows[:, [0, 4, 5]])
    with pytest.raises(ConfigError, match="triplets"):
        Rotation(triplets=[(0, 1, 6)])(windows, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="triplets"):
        Rotation(triplets=[(0, 1, 2), (2, 3, 4)])(windows, np.random.default_rng(0))


def test_random_rotation_matrices_angles():
    R = random_rotation_matrices(200, 15.0, np.random.default_rng(0))
    np.testing.assert_allclose(
        R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-12
    )
    angles = np.degrees(np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert angles.max() <= 15.0 + 1e-9 and angles.max() > 12.0


def test_time_warp_endpoints_and_monotone():
    paths = time_warp_paths(50, 60, 0.5, 4, np.random.default_rng(0))
    assert (paths[:, 0] == 0).all() and (paths[:, -1] == 59).all()
    assert (np.diff(paths, axis=1) > 0).all()
    assert np.abs(paths - np.arange(60)).max() > 1.0  # it does warp
    X = np.broadcast_to(np.arange(60, dtype=np.float32), (5, 2, 60)).copy()
    out = TimeWarp(sigma=0.5)(X, np.random.default_rng(1))
    np.testing.assert_array_equal(out[..., 0], X[..., 0])
    np.testing.assert_allclose(out[..., -1], X[..., -1])
    assert (np.diff(out, axis=2) > 0).all()  # a ramp stays increasing
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # channels share the path


def test_window_slice_is_a_stretched_contiguous_crop():
    X = np.broadcast_to(np.arange(100, dtype=np.float32), (4, 1, 100)).copy()
    out = WindowSlice(ratio=0.5)(X, np.random.default_rng(0))
    np.testing.assert_allclose(out[:, 0, -1] - out[:, 0, 0], 49.0, atol=1e-4)
    np.testing.assert_allclose(np.diff(out, axis=2), 49.0 / 99.0, atol=1e-4)
    assert (out[:, 0, 0] >= 0).all() and (out[:, 0, -1] <= 99).all()


@pytest.mark.parametrize("random_lengths", [True, False])
def test_permutation_preserves_multiset_of_samples(windows, random_lengths):
    out = Permutation(n_segments=5, random_lengths=random_lengths)(
        windows, np.random.default_rng(2)
    )
    for i in range(len(windows)):
        # Columns (all channels at one time step) move as a whole.
        before = sorted(map(tuple, windows[i].T.tolist()))
        after = sorted(map(tuple, out[i].T.tolist()))
        assert before == after
    assert not np.array_equal(out, windows)


def test_random_apply_changes_only_chosen_samples(windows):
    out = RandomApply(Jitter(1.0), p=0.5)(
        np.repeat(windows[:1], 200, axis=0), np.random.default_rng(0)
    )
    changed = (out != windows[:1]).any(axis=(1, 2))
    assert 70 < changed.sum() < 130


def test_one_of_applies_exactly_one(windows):
    X = np.zeros((300, 1, 10), dtype=np.float32)
    out = OneOf([Jitter(1.0), Scaling(0.5)], p=[0.5, 0.5])(X + 1, np.random.default_rng(0))
    constant = np.ptp(out, axis=2)[:, 0] < 1e-6  # Scaling keeps a constant window constant
    assert 100 < constant.sum() < 200


def test_scaling_per_window_keeps_vector_directions(windows):
    out = Scaling(sigma=0.3, per_channel=False)(windows, np.random.default_rng(0))
    ratio = out / windows
    np.testing.assert_allclose(ratio, ratio[:, :1, :1] * np.ones_like(ratio), rtol=1e-4)


def test_flips_are_involutions(images):
    rng = np.random.default_rng(0)
    for flip in (Flip(1.0, 0.0), Flip(0.0, 1.0), Flip(1.0, 1.0)):
        once = flip(images, rng)
        assert not np.array_equal(once, images)
        np.testing.assert_array_equal(flip(once, rng), images)
    np.testing.assert_array_equal(Flip(1.0, 0.0)(images, rng), images[..., ::-1])


def test_translation_moves_a_point_and_rotation_by_90_turns_it():
    X = np.zeros((1, 1, 21, 21), dtype=np.float32)
    X[0, 0, 10, 15] = 1.0
    out = Translation(max_shift=3)(X, np.random.default_rng(5))
    (r, c) = np.argwhere(out[0, 0] == 1.0)[0]
    assert abs(r - 10) <= 3 and abs(c - 15) <= 3 and out.sum() == 1.0
    turned = ImageRotation(180.0)(X, np.random.default_rng(9))
    peak = np.unravel_index(np.argmax(turned[0, 0]), (21, 21))
    assert np.hypot(peak[0] - 10, peak[1] - 10) == pytest.approx(5.0, abs=1.0)  # about centre
    assert peak != (10, 15)


def test_image_scaling_zooms_about_centre():
    X = np.zeros((1, 1, 33, 33), dtype=np.float32)
    X[0, 0, 16, 16 + 8] = 1.0
    out = ImageScaling(2.0, 2.0)(X, np.random.default_rng(0))
    assert np.unravel_index(np.argmax(out[0, 0]), (33, 33)) == (16, 32)


def test_bad_inputs_raise(windows, images):
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="3-D"):
        Jitter()(images, rng)
    with pytest.raises(DataError, match="4-D"):
        Flip()(windows, rng)
    bad = windows.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Jitter()(bad, rng)
    with pytest.raises(ConfigError, match="sigma"):
        Jitter(sigma=-1)(windows, rng)
    with pytest.raises(ConfigError, match="ratio"):
        WindowSlice(ratio=0.0)(windows, rng)
    with pytest.raises(ConfigError, match="rng"):
        Jitter()(windows, 0)
    with pytest.raises(ConfigError, match="p"):
        OneOf([Jitter()], p=[0.5])(windows, rng)


def test_augment_to_counts_reaches_targets_and_keeps_real_rows(windows):
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    aug = Compose([Jitter(0.05), Scaling(0.1)])
    Xn, yn, src = augment_to_counts(
        windows, y, {1: 6, 2: 5}, aug, np.random.default_rng(0), return_indices=True
    )
    assert np.bincount(yn).tolist() == [6, 6, 5]
    assert Xn.dtype == np.float32 and yn.dtype == np.int64
    np.testing.assert_array_equal(Xn[:10], windows)
    np.testing.assert_array_equal(yn[:10], y)
    np.testing.assert_array_equal(src[:10], np.arange(10))
    assert (y[src] == yn).all()  # each new row comes from a real row of its class
    new = Xn[10:]
    assert not any(np.array_equal(row, windows[s]) for row, s in zip(new, src[10:], strict=True))
    assert np.abs(new - windows[src[10:]]).max() < 1.0  # augmented, not unrelated
    again = augment_to_counts(windows, y, {1: 6, 2: 5}, aug, np.random.default_rng(0))
    np.testing.assert_array_equal(again[0], Xn)


def test_augment_to_counts_bad_targets(windows):
    y = np.array([0] * 8 + [1] * 2)
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="target_counts"):
        augment_to_counts(windows, y, {0: 3}, Jitter(), rng)
    with pytest.raises(DataError, match="no sample"):
        augment_to_counts(windows, y, {5: 3}, Jitter(), rng)
    with pytest.raises(DataError, match="y"):
        augment_to_counts(windows, y[:5], {1: 3}, Jitter(), rng)
    Xn, yn = augment_to_counts(windows, y, {0: 8, 1: 2}, Jitter(), rng)
    np.testing.assert_array_equal(Xn, windows)
    np.testing.assert_array_equal(yn, y)


def test_kinematic_augmenter_identity_and_perturbation():
    simulate = pytest.importorskip("imusynth.kinematics.simulate")
    from imusynth.augment import KinematicAugmenter

    sim = simulate.simulate_exercise("ABD", n=2, length=60, rng=0)["X"]
    extra = np.full((2, 1, 60), 7.0, dtype=np.float32)
    X = np.concatenate([extra, sim], axis=1)  # (N, 7, T): a channel beside the IMU
    fast = {
        "ik_steps": 1,
        "restart_steps": 0,
        "acc_channels": (1, 2, 3),
        "gyro_channels": (4, 5, 6),
    }
    still = KinematicAugmenter(amplitude_sigma=0.0, tempo_sigma=0.0, **fast)
    np.testing.assert_allclose(still(X, np.random.default_rng(0)), X, atol=1e-4)
    aug = KinematicAugmenter(amplitude_sigma=0.3, tempo_sigma=0.3, **fast)
    a = aug(X, np.random.default_rng(1))
    b = aug(X, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a[:, 0], X[:, 0])
    assert np.abs(a[:, 1:] - X[:, 1:]).max() > 0.05
    with pytest.raises(ConfigError, match="acc_channels"):
        KinematicAugmenter()(X[:, :5], np.random.default_rng(0))

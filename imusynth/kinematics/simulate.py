"""Exercise simulator: joint-space templates of the seven watch-data exercises -> IMU windows.

Each exercise is a :class:`ExerciseTemplate`: a base pose plus, per joint, an amplitude and a
phase lag of one repeating movement profile. A simulated subject (:class:`SubjectParams`)
brings its own body size, watch placement and mounting, sensor noise and bias, and its own
way of doing each exercise (amplitude, tempo, pose offsets, how square the repetitions are).
Within a window the repetitions vary smoothly (amplitude and tempo drift). The joint angles
go through :class:`~imusynth.kinematics.arm.ArmModel`, so the gravity direction and the
accelerometer/gyroscope coupling are physically consistent, and the true joint motion of
every window is returned beside its signals.

The base poses were chosen so that the mean gravity direction in the watch frame resembles the
seglearn watch data (Burns et al. 2018) per exercise (checked in ``tests/test_simulate_ik.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from imusynth.errors import ConfigError
from imusynth.kinematics.arm import ArmGeometry, ArmModel

__all__ = [
    "CHANNELS",
    "EXERCISES",
    "EXERCISE_TEMPLATES",
    "UNITS",
    "ExerciseTemplate",
    "SimConfig",
    "SubjectParams",
    "sample_subjects",
    "simulate_dataset",
    "simulate_exercise",
    "template_pose",
]

EXERCISES = ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")
UNITS = ("g", "g", "g", "rad/s", "rad/s", "rad/s")


@dataclass(frozen=True)
class ExerciseTemplate:
    """One exercise in joint space (angles in degrees, right-arm conventions of ArmModel).

    ``q_j(t) = base_j + amplitude_j * profile(phase(t) - 2 pi lag_j)``, where ``profile`` runs
    from -1 (start of a repetition) to +1 (end of the concentric phase) and back; it is a
    cosine for ``squareness = 0`` and flattens into holds at both ends as it grows.

    Attributes
    ----------
    name : str
        Exercise code.
    rate_hz : float
        Repetitions per second.
    base : dict of str to float
        Pose about which the joints move (joints not named stay at 0).
    amplitude : dict of str to float
        Half range of each moving joint.
    lag : dict of str to float
        Phase lag of a joint in cycles (0.25 = a quarter cycle, e.g. circles).
    squareness : float
        Typical hold at the ends of a repetition (0 = sinusoidal).
    """

    name: str
    rate_hz: float
    base: dict[str, float]
    amplitude: dict[str, float]
    lag: dict[str, float] = field(default_factory=dict)
    squareness: float = 1.0


# Shoulder rotation is ISB's (YXY'): the untwisted arm raised in plane p has rotation -p.
EXERCISE_TEMPLATES: dict[str, ExerciseTemplate] = {
    # Pendulum: trunk bent forward, the arm hangs and swings in small circles.
    "PEN": ExerciseTemplate(
        "PEN",
        0.75,
        base={
            "trunk_flexion": 50,
            "shoulder_plane": 90,
            "shoulder_elevation": 45,
            "shoulder_rotation": -90,
            "elbow_flexion": 15,
        },
        # The axial rotation follows the plane so that the circling arm does not twist.
        amplitude={
            "shoulder_plane": 35,
            "shoulder_rotation": -35,
            "shoulder_elevation": 18,
            "trunk_flexion": 4,
        },
        lag={"shoulder_plane": 0.25, "shoulder_rotation": 0.25, "trunk_flexion": 0.5},
        squareness=0.0,
    ),
    # Abduction in the frontal plane, palm up at shoulder height (gyro mostly about watch y,
    # watch face down when raised, as in the data).
    "ABD": ExerciseTemplate(
        "ABD",
        0.45,
        base={
            "shoulder_plane": 10,
            "shoulder_elevation": 85,
            "shoulder_rotation": -90,  # 80 deg external
            "elbow_flexion": 10,
            "forearm_pronation": -80,
        },
        amplitude={"shoulder_elevation": 70},
    ),
    # Forward elevation in the sagittal plane, palm forward.
    "FEL": ExerciseTemplate(
        "FEL",
        0.45,
        base={
            "shoulder_plane": 85,
            "shoulder_elevation": 85,
            "shoulder_rotation": -85,  # no twist
            "elbow_flexion": 10,
            "forearm_pronation": -70,
        },
        amplitude={"shoulder_elevation": 70},
    ),
    # Internal rotation against a band: elbow at 90 deg by the side, thumb up.
    "IR": ExerciseTemplate(
        "IR",
        0.5,
        base={
            "shoulder_plane": 20,
            "shoulder_elevation": 8,
            "shoulder_rotation": 5,  # 25 deg internal
            "elbow_flexion": 100,
        },
        amplitude={"shoulder_rotation": 55},
    ),
    # External rotation against a band.
    "ER": ExerciseTemplate(
        "ER",
        0.5,
        base={
            "shoulder_plane": 20,
            "shoulder_elevation": 8,
            "shoulder_rotation": -35,  # 15 deg external
            "elbow_flexion": 100,
        },
        amplitude={"shoulder_rotation": -55},
    ),
    # Lower trapezius row with a band: trunk slightly forward, arm pulled down and back.
    "TRAP": ExerciseTemplate(
        "TRAP",
        0.65,
        base={
            "trunk_flexion": 25,
            "shoulder_plane": 90,
            "shoulder_elevation": 10,
            "shoulder_rotation": -90,
            "elbow_flexion": 15,
        },
        amplitude={"shoulder_elevation": -20, "elbow_flexion": 12, "shoulder_rotation": 10},
    ),
    # Bent-over row with a dumbbell: trunk forward, elbow pulled up and back.
    "ROW": ExerciseTemplate(
        "ROW",
        0.8,
        base={
            "trunk_flexion": 45,
            "shoulder_plane": 90,
            "shoulder_elevation": 25,
            "shoulder_rotation": -90,
            "elbow_flexion": 45,
        },
        amplitude={"shoulder_elevation": -30, "elbow_flexion": 40},
    ),
}


def template_pose(exercise: str, joint_names: tuple[str, ...]) -> np.ndarray:
    """Base pose of an exercise template in radians, ordered as ``joint_names`` (J,).

    Examples
    --------
    >>> from imusynth.kinematics.arm import ArmModel
    >>> float(template_pose("FEL", ArmModel().joint_names)[3].round(2))
    1.48
    """
    tpl = _template(exercise)
    return np.radians([tpl.base.get(name, 0.0) for name in joint_names])


def _template(exercise: str) -> ExerciseTemplate:
    if exercise not in EXERCISE_TEMPLATES:
        raise ConfigError(
            f"unknown exercise {exercise!r}; known: {', '.join(EXERCISES)}", field="exercise"
        )
    return EXERCISE_TEMPLATES[exercise]


@dataclass(frozen=True)
class SimConfig:
    """Spread of the simulated population and sensor (standard deviations unless noted).

    Attributes
    ----------
    amplitude_sd : float
        Log-normal spread of a subject's movement amplitude.
    tempo_sd : float
        Log-normal spread of a subject's repetition rate.
    pose_offset_deg : float
        Per subject and exercise offset of each template joint.
    squareness_range : tuple of float
        Uniform range of the repetition profile's flatness.
    rep_amplitude_sd, rep_tempo_sd : float
        Slow drift of amplitude and rate within a window (repetition-to-repetition variation).
    rep_corr_s : float
        Time scale of that drift in seconds.
    length_sd : float
        Log-normal spread of the overall body size; each segment adds half of it again.
    sensor_distance_sd : float
        Spread of the watch position along the forearm, metres.
    mount_deg : float
        Spread of the watch mounting rotation, degrees per axis.
    acc_noise, gyro_noise : float
        White noise, g and rad/s.
    acc_bias, gyro_bias : float
        Per-subject constant bias, g and rad/s.
    """

    amplitude_sd: float = 0.15
    tempo_sd: float = 0.2
    pose_offset_deg: float = 8.0
    squareness_range: tuple[float, float] = (0.3, 2.0)
    rep_amplitude_sd: float = 0.08
    rep_tempo_sd: float = 0.08
    rep_corr_s: float = 1.0
    length_sd: float = 0.06
    sensor_distance_sd: float = 0.015
    mount_deg: float = 10.0
    acc_noise: float = 0.01
    gyro_noise: float = 0.02
    acc_bias: float = 0.02
    gyro_bias: float = 0.02


@dataclass(frozen=True)
class SubjectParams:
    """One simulated subject: body, watch placement and sensor (drawn by :func:`sample_subjects`).

    Attributes
    ----------
    subject_id : str
        Group id, e.g. ``"sim03"``.
    seed : int
        Seeds this subject's way of doing each exercise.
    geometry : ArmGeometry
        Segment lengths and watch position.
    mount : tuple of float
        Watch mounting rotation, axis-angle (radians).
    acc_bias, gyro_bias : tuple of float
        Constant sensor biases (g, rad/s).
    """

    subject_id: str
    seed: int
    geometry: ArmGeometry
    mount: tuple[float, float, float]
    acc_bias: tuple[float, float, float]
    gyro_bias: tuple[float, float, float]


def sample_subjects(
    n_subjects: int,
    rng: np.random.Generator | int,
    config: SimConfig | None = None,
    *,
    prefix: str = "sim",
) -> list[SubjectParams]:
    """Draw ``n_subjects`` simulated subjects.

    Examples
    --------
    >>> [s.subject_id for s in sample_subjects(2, rng=0)]
    ['sim00', 'sim01']
    """
    cfg = config or SimConfig()
    if n_subjects < 1:
        raise ConfigError(f"need at least one subject, got {n_subjects}", field="n_subjects")
    gen = np.random.default_rng(rng)
    base = ArmGeometry()
    out = []
    for i in range(n_subjects):
        size = math.exp(gen.normal(0, cfg.length_sd))
        seg = np.exp(gen.normal(0, cfg.length_sd / 2, size=4)) * size
        forearm = base.forearm_length * seg[3]
        distance = float(
            np.clip(
                base.sensor_distance / base.forearm_length * forearm
                + gen.normal(0, cfg.sensor_distance_sd),
                0.5 * forearm,
                forearm,
            )
        )
        geo = ArmGeometry(
            trunk_length=base.trunk_length * seg[0],
            shoulder_width=base.shoulder_width * seg[1],
            upper_arm_length=base.upper_arm_length * seg[2],
            forearm_length=forearm,
            sensor_distance=distance,
            sensor_height=base.sensor_height * size,
        )
        out.append(
            SubjectParams(
                subject_id=f"{prefix}{i:02d}",
                seed=int(gen.integers(2**31)),
                geometry=geo,
                mount=tuple(np.radians(gen.normal(0, cfg.mount_deg, 3)).tolist()),
                acc_bias=tuple(gen.normal(0, cfg.acc_bias, 3).tolist()),
                gyro_bias=tuple(gen.normal(0, cfg.gyro_bias, 3).tolist()),
            )
        )
    return out


def _smooth_noise(gen: np.random.Generator, n_t: int, fs: float, corr_s: float) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed at time scale ``corr_s`` (T,)."""
    sigma = max(corr_s * fs, 1.0)
    pad = int(3 * sigma)
    x = gaussian_filter1d(gen.normal(size=n_t + 2 * pad), sigma)[pad : pad + n_t]
    # A Gaussian kernel of width sigma leaves white noise with variance 1 / (2 sqrt(pi) sigma).
    return x * math.sqrt(2 * math.sqrt(math.pi) * sigma)


def _soft_clip(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, sharpness: float = 20.0):
    """Smooth clip into (lo, hi): a hard clip would put kinks (gyro steps, acc spikes) into
    the motion where a subject's offsets push a joint past its range."""

    def softplus(v: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, sharpness * v) / sharpness

    return lo + softplus(x - lo) - softplus(x - hi)


def _profile(phase: np.ndarray, squareness: float) -> np.ndarray:
    # -tanh(k cos) / tanh(k): a cosine that holds at both ends as k grows (k -> 0 is -cos).
    if squareness < 1e-3:
        return -np.cos(phase)
    return -np.tanh(squareness * np.cos(phase)) / math.tanh(squareness)


def _joint_trajectories(
    tpl: ExerciseTemplate,
    joint_names: tuple[str, ...],
    style: _Style,
    gen: np.random.Generator,
    n_t: int,
    fs: float,
    cfg: SimConfig,
) -> np.ndarray:
    """(J, T) radians for one window."""
    rate = (
        tpl.rate_hz
        * style.tempo
        * (1 + cfg.rep_tempo_sd * _smooth_noise(gen, n_t, fs, cfg.rep_corr_s))
    )
    phase = gen.uniform(0, 2 * math.pi) + 2 * math.pi * np.cumsum(rate) / fs
    amp_drift = 1 + cfg.rep_amplitude_sd * _smooth_noise(gen, n_t, fs, cfg.rep_corr_s)
    q = np.zeros((len(joint_names), n_t))
    for j, name in enumerate(joint_names):
        base = tpl.base.get(name, 0.0) + style.offsets_deg[j]
        amp = tpl.amplitude.get(name, 0.0) * style.amplitude * amp_drift
        shape = _profile(phase - 2 * math.pi * tpl.lag.get(name, 0.0), style.squareness)
        q[j] = np.radians(base + amp * shape)
    return q


@dataclass(frozen=True)
class _Style:
    """A subject's own way of doing one exercise (fixed for all its windows)."""

    amplitude: float
    tempo: float
    squareness: float
    offsets_deg: np.ndarray  # (J,)


def _style(
    subject: SubjectParams, exercise: str, joint_names: tuple[str, ...], cfg: SimConfig
) -> _Style:
    gen = np.random.default_rng([subject.seed, EXERCISES.index(exercise)])
    tpl = _template(exercise)
    lo, hi = cfg.squareness_range
    moving = set(tpl.base) | set(tpl.amplitude)
    offsets = np.array(
        [gen.normal(0, cfg.pose_offset_deg) if n in moving else 0.0 for n in joint_names]
    )
    return _Style(
        amplitude=math.exp(gen.normal(0, cfg.amplitude_sd)),
        tempo=math.exp(gen.normal(0, cfg.tempo_sd)),
        squareness=tpl.squareness * gen.uniform(lo, hi),
        offsets_deg=offsets,
    )


def simulate_exercise(
    exercise: str,
    n: int,
    length: int = 250,
    fs: float = 50.0,
    side: str = "right",
    rng: np.random.Generator | int | None = 0,
    *,
    n_subjects: int = 5,
    subjects: list[SubjectParams] | None = None,
    config: SimConfig | None = None,
    trunk: bool = True,
) -> dict:
    """Simulate ``n`` watch windows of one exercise with known joint motion.

    Parameters
    ----------
    exercise : str
        One of :data:`EXERCISES`.
    n : int
        Number of windows; they are dealt to the subjects in turn.
    length : int
        Samples per window.
    fs : float
        Sampling rate in Hz.
    side : {"right", "left", "both"}
        Arm; ``"both"`` alternates per window.
    rng : numpy Generator or int
        Randomness of the windows (and of the subjects when ``subjects`` is None).
    n_subjects : int
        Subjects drawn when ``subjects`` is None.
    subjects : list of SubjectParams, optional
        Reuse a population (so that one subject does several exercises).
    config : SimConfig, optional
        Population and sensor spread.
    trunk : bool
        Model with trunk joints (J = 7) or a fixed thorax (J = 5).

    Returns
    -------
    dict
        ``X`` (n, 6, T) float32 ``[ax ay az wx wy wz]`` in g and rad/s; ``joint_angles``
        (n, J, T) float32 radians; ``joint_names``; ``groups`` (n,) subject ids; ``side``
        (n,) "right"/"left"; ``mount`` (n, 3) float32 axis-angle; ``exercise``; ``channels``;
        ``units``; ``sampling_rate_hz``.

    Examples
    --------
    >>> sim = simulate_exercise("ABD", n=4, length=100, rng=0)
    >>> sim["X"].shape, sim["joint_angles"].shape
    ((4, 6, 100), (4, 7, 100))
    """
    cfg = config or SimConfig()
    tpl = _template(exercise)
    if n < 1 or length < 2:
        raise ConfigError(f"need n >= 1 and length >= 2, got {n=}, {length=}", field="n")
    if side not in ("right", "left", "both"):
        raise ConfigError(f"side must be right, left or both, got {side!r}", field="side")
    gen = np.random.default_rng(rng)
    if subjects is None:
        subjects = sample_subjects(n_subjects, gen, cfg)
    models = {s: ArmModel(s, trunk=trunk).double() for s in ("right", "left")}
    joint_names = models["right"].joint_names
    limits = models["right"].joint_limits.numpy()  # (J, 2)
    styles = [_style(s, exercise, joint_names, cfg) for s in subjects]

    who = np.arange(n) % len(subjects)
    sides = np.array(
        [
            "right" if (side == "right" or (side == "both" and i % 2 == 0)) else "left"
            for i in range(n)
        ]
    )
    q = np.stack(
        [_joint_trajectories(tpl, joint_names, styles[k], gen, length, fs, cfg) for k in who]
    )  # (n, J, T)
    q = _soft_clip(q, limits[None, :, :1], limits[None, :, 1:])
    mount = np.array([subjects[k].mount for k in who])  # (n, 3)
    geometry = {
        name: torch.tensor([getattr(subjects[k].geometry, name) for k in who], dtype=torch.float64)
        for name in ArmGeometry.__dataclass_fields__
    }
    X = np.empty((n, 6, length))
    with torch.no_grad():
        for s, model in models.items():
            idx = np.flatnonzero(sides == s)
            if idx.size == 0:
                continue
            out = model(
                torch.from_numpy(q[idx]),
                fs,
                mount=torch.from_numpy(mount[idx]),
                geometry={k: v[idx] for k, v in geometry.items()},
            )
            X[idx] = out.imu.numpy()
    bias = np.array([subjects[k].acc_bias + subjects[k].gyro_bias for k in who])  # (n, 6)
    noise_sd = np.array([cfg.acc_noise] * 3 + [cfg.gyro_noise] * 3)
    X = X + bias[:, :, None] + gen.normal(size=X.shape) * noise_sd[None, :, None]
    return {
        "X": X.astype(np.float32),
        "joint_angles": q.astype(np.float32),
        "joint_names": joint_names,
        "groups": np.array([subjects[k].subject_id for k in who]),
        "side": sides,
        "mount": mount.astype(np.float32),
        "exercise": exercise,
        "channels": CHANNELS,
        "units": UNITS,
        "sampling_rate_hz": float(fs),
    }


def simulate_dataset(
    exercises: tuple[str, ...] | list[str] = EXERCISES,
    n_per_class: int = 50,
    n_subjects: int = 10,
    *,
    length: int = 250,
    fs: float = 50.0,
    side: str = "both",
    seed: int = 0,
    config: SimConfig | None = None,
    trunk: bool = True,
) -> dict:
    """Simulate a labelled dataset: ``n_per_class`` windows of each exercise, one population.

    Every subject does every exercise (as in the watch data). Fields match
    :class:`imusynth.data.WindowSet` so the caller can wrap the result directly.

    Parameters
    ----------
    exercises : sequence of str
        Classes, in code order.
    n_per_class : int
        Windows per exercise.
    n_subjects : int
        Simulated subjects shared by all exercises.
    length, fs, side, config, trunk
        As in :func:`simulate_exercise`.
    seed : int
        Seeds the whole dataset.

    Returns
    -------
    dict
        ``X`` (N, 6, T) float32, ``y`` (N,) int64, ``classes``, ``groups`` (N,) str, ``side``
        (N,) str, ``joint_angles`` (N, J, T) float32, ``joint_names``, ``mount`` (N, 3),
        ``channels``, ``units``, ``sampling_rate_hz``.

    Examples
    --------
    >>> ds = simulate_dataset(("ABD", "IR"), n_per_class=3, n_subjects=2, length=100)
    >>> ds["X"].shape, ds["y"].tolist(), ds["classes"]
    ((6, 6, 100), [0, 0, 0, 1, 1, 1], ('ABD', 'IR'))
    """
    exercises = tuple(exercises)
    if not exercises:
        raise ConfigError("no exercise to simulate", field="exercises")
    for ex in exercises:
        _template(ex)
    gen = np.random.default_rng(seed)
    subjects = sample_subjects(n_subjects, gen, config)
    parts = [
        simulate_exercise(
            ex, n_per_class, length, fs, side, gen, subjects=subjects, config=config, trunk=trunk
        )
        for ex in exercises
    ]
    return {
        "X": np.concatenate([p["X"] for p in parts]),
        "y": np.repeat(np.arange(len(exercises), dtype=np.int64), n_per_class),
        "classes": exercises,
        "groups": np.concatenate([p["groups"] for p in parts]),
        "side": np.concatenate([p["side"] for p in parts]),
        "joint_angles": np.concatenate([p["joint_angles"] for p in parts]),
        "joint_names": parts[0]["joint_names"],
        "mount": np.concatenate([p["mount"] for p in parts]),
        "channels": CHANNELS,
        "units": UNITS,
        "sampling_rate_hz": float(fs),
    }

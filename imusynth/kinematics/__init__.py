"""Differentiable upper-extremity kinematics: rotations, the arm chain, IMU synthesis,
exercise simulation and inverse kinematics. Pure torch, batched, float32 and float64."""

from imusynth.kinematics.arm import (
    ARM_JOINTS,
    GRAVITY,
    POINT_NAMES,
    TRUNK_JOINTS,
    ArmGeometry,
    ArmModel,
    ArmOutput,
)
from imusynth.kinematics.derivatives import time_derivative
from imusynth.kinematics.ik import IKResult, fit_joint_angles, r2_score
from imusynth.kinematics.ik_windows import WindowsFit, fit_windows
from imusynth.kinematics.simulate import (
    CHANNELS,
    EXERCISE_TEMPLATES,
    EXERCISES,
    SimConfig,
    SubjectParams,
    sample_subjects,
    simulate_dataset,
    simulate_exercise,
    template_pose,
)

__all__ = [
    "ARM_JOINTS",
    "CHANNELS",
    "EXERCISES",
    "EXERCISE_TEMPLATES",
    "GRAVITY",
    "POINT_NAMES",
    "TRUNK_JOINTS",
    "ArmGeometry",
    "ArmModel",
    "ArmOutput",
    "IKResult",
    "SimConfig",
    "SubjectParams",
    "WindowsFit",
    "fit_joint_angles",
    "fit_windows",
    "r2_score",
    "sample_subjects",
    "simulate_dataset",
    "simulate_exercise",
    "template_pose",
    "time_derivative",
]

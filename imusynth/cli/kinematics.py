"""``imusynth simulate`` and ``imusynth ik``: the arm model's simulator and inverse kinematics."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from imusynth.cli.common import (
    _command,
    _out_option,
    _positive_int,
    _progress,
    _say,
    _write_out,
)
from imusynth.errors import ConfigError


def _cmd_simulate(args: argparse.Namespace) -> int:
    """simulate exercise windows with the arm model

    Simulate watch windows of shoulder exercises through the kinematic arm model, with per-subject
    variability; writes a windows file with the true joint angles.
    """
    from imusynth.data import WindowSet
    from imusynth.kinematics import EXERCISES, simulate_dataset

    names = [e.strip().upper() for part in args.exercise for e in part.split(",") if e.strip()]
    exercises = list(EXERCISES) if names == ["ALL"] else names
    unknown = [e for e in exercises if e not in EXERCISES]
    if unknown:
        raise ConfigError(
            f"unknown exercise {unknown[0]!r} (known: {', '.join(EXERCISES)})", field="--exercise"
        )
    ds = simulate_dataset(
        tuple(exercises),
        args.n,
        args.subjects,
        length=args.length,
        fs=args.rate,
        side=args.side,
        seed=args.seed,
    )
    ws = WindowSet.from_mapping(ds, source="simulate")
    what = (
        f"{len(ws)} simulated windows ({args.n} per exercise: "
        f"{', '.join(exercises)}; {args.subjects} subjects) with joint angles"
    )
    mount = ds["mount"].astype(np.float32)
    _write_out(args, ws, what, source=f"simulate:seed={args.seed}", extra={"mount": mount})
    return 0


def _cmd_ik(args: argparse.Namespace) -> int:
    """fit joint angles to recorded windows

    Inverse kinematics: fit joint-angle trajectories and the watch mounting to each window by
    gradient descent through the arm model; report R² per channel.
    """
    from imusynth.data import read_windows, write_windows
    from imusynth.kinematics import fit_windows

    ws = read_windows(args.windows)
    fit = fit_windows(
        ws,
        steps=args.steps,
        device=args.device,
        progress=_progress(args),
        seed=args.seed,
        path=args.windows,
    )
    r2 = fit.r2
    write_windows(
        args.out,
        fit.windows,
        source=f"ik:{args.windows}",
        extra={"ik_r2": r2, "ik_mount": fit.mount},
    )
    _say(args, f"fitted {len(ws)} windows; median R² per class (ax ay az wx wy wz):")
    for c, name in enumerate(ws.classes):
        sel = ws.y == c
        if sel.any():
            med = np.median(r2[sel], axis=0)
            _say(
                args,
                f"  {name:<6} " + " ".join(f"{v:5.2f}" for v in med) + f"   mean {med.mean():.2f}",
            )
    _say(args, f"wrote joint angles and fit quality (ik_r2, ik_mount) to {args.out}")
    return 0


def _add_kinematics(sub) -> None:
    p = _command(sub, "simulate", _cmd_simulate)
    p.add_argument(
        "--exercise",
        action="append",
        required=True,
        help="exercise(s), e.g. ABD or ABD,IR, or ALL (repeatable)",
    )
    p.add_argument("--n", type=_positive_int, default=50, help="windows per exercise")
    p.add_argument("--subjects", type=_positive_int, default=10, help="simulated subjects")
    p.add_argument("--length", type=_positive_int, default=250, help="samples per window")
    p.add_argument("--rate", type=float, default=50.0, help="sampling rate in Hz")
    p.add_argument(
        "--side",
        choices=("right", "left", "both"),
        default="both",
        help="arm the watch is worn on",
    )
    _out_option(p)

    p = _command(sub, "ik", _cmd_ik)
    p.add_argument("windows", type=Path, help="HDF5 windows file (ax..wz in g and rad/s)")
    _out_option(p)
    p.add_argument(
        "--steps", type=_positive_int, default=150, help="L-BFGS iterations per window batch"
    )

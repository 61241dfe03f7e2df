"""``imusynth evaluate``: score synthetic windows against real ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from imusynth.cli.common import (
    _common,
    _out_dir,
    _progress,
    _say,
)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from imusynth.data import read_windows
    from imusynth.evaluation.evaluate import evaluate

    train, test, synth = (read_windows(p) for p in (args.train, args.test, args.synthetic))
    out = Path(args.out)
    metrics = evaluate(
        train,
        test,
        synth,
        classifier=args.classifier,
        seed=args.seed,
        device=args.device,
        out_dir=out,
        progress=_progress(args),
        kinematic=args.kinematic,
    )
    keys = (
        "trtr_accuracy",
        "tstr_accuracy",
        "trts_accuracy",
        "discriminative_score",
        "frechet_distance",
        "mmd",
        "psd_distance",
    )
    for key in keys:
        value = metrics.get(key)
        _say(args, f"{key:<22} {value:.4f}" if isinstance(value, float) else f"{key:<22} {value}")
    _say(args, f"wrote {out / 'metrics.json'} and {len(metrics.get('figures', []))} figures")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[_common()],
        help="score synthetic windows against real ones",
        description="TRTR / TSTR / TRTS accuracy, discriminative score, Fréchet distance, MMD "
        "and PSD distance of a synthetic set, with figures. Refuses a test set that shares a "
        "subject with the train set.",
    )
    p.add_argument("--train", type=Path, required=True, help="real training windows (HDF5)")
    p.add_argument("--test", type=Path, required=True, help="real test windows (HDF5)")
    p.add_argument("--synthetic", type=Path, required=True, help="synthetic windows (HDF5)")
    p.add_argument("--out", type=_out_dir, required=True, help="report folder")
    p.add_argument(
        "--classifier",
        default="frid_adar",
        choices=("frid_adar", "resnet", "rf"),
        help="classifier for TRTR/TSTR/TRTS and the feature space (default frid_adar)",
    )
    p.add_argument(
        "--kinematic",
        action="store_true",
        help="also score kinematic plausibility by inverse kinematics (slow)",
    )
    p.set_defaults(func=_cmd_evaluate)

"""``imusynth evaluate``: score synthetic windows against real ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from imusynth.cli.common import _command, _out_dir, _out_option, _positive_int, _progress, _say


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """score synthetic windows against real ones

    TRTR / TSTR / TRTS accuracy, the subject-held-out discriminative score beside its real-vs-real
    floor, TimeGAN's post-hoc GRU discriminative and predictive scores, Fréchet distance, MMD and
    PSD distance of a synthetic set, each printed beside its reference, with figures. Refuses a test
    set that shares a subject with the train set.
    """
    from imusynth.data import read_windows
    from imusynth.evaluation.evaluate import evaluate, summary_rows

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
        judge_repeats=args.judge_repeats,
        timegan=not args.skip_gru_judges,
    )
    rows = summary_rows(metrics)
    width = max(len(name) for name, _, _ in rows)
    for name, value, reference in rows:
        _say(args, f"{name:<{width}}  {value:<11} [{reference}]")
    _say(
        args,
        f"wrote {out / 'metrics.json'}, {out / 'report.md'} and "
        f"{len(metrics.get('figures', []))} figures",
    )
    return 0


def _add_evaluate(sub) -> None:
    p = _command(sub, "evaluate", _cmd_evaluate)
    p.add_argument("--train", type=Path, required=True, help="real training windows (HDF5)")
    p.add_argument("--test", type=Path, required=True, help="real test windows (HDF5)")
    p.add_argument("--synthetic", type=Path, required=True, help="synthetic windows (HDF5)")
    _out_option(p, _out_dir, "report folder")
    p.add_argument(
        "--classifier",
        default="frid_adar",
        choices=("frid_adar", "resnet", "rf"),
        help="classifier for TRTR/TSTR/TRTS and the feature space (default frid_adar)",
    )
    p.add_argument(
        "--judge-repeats",
        type=_positive_int,
        default=5,
        help="subject splits of the held-out discriminative score and its floor (default 5)",
    )
    p.add_argument(
        "--skip-gru-judges",
        action="store_true",
        help="skip TimeGAN's post-hoc GRU judges (minutes on a CPU)",
    )
    p.add_argument(
        "--kinematic",
        action="store_true",
        help="also score kinematic plausibility by inverse kinematics (slow)",
    )

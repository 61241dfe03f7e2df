"""``imusynth experiment``: run an augmentation or rebalancing grid and print its headline."""

from __future__ import annotations

import argparse
from pathlib import Path

from imusynth.cli.common import _command, _out_dir, _out_option, _positive_int, _progress, _say


def _cmd_experiment(args: argparse.Namespace) -> int:
    """run an augmentation or rebalancing grid

    Run a grid of arms x training sizes x added samples x folds x seeds with subject-wise CV (GANs
    and augmenters fit in-fold only), write results.csv, summary.md and figures. An interrupted
    experiment resumes from the rows it has, and a GAN it was training from its last checkpoint.
    """
    from imusynth.experiments import load_experiment, run_experiment, summarise

    cfg = load_experiment(args.config, quick=args.quick)
    out = Path(args.out)
    _say(
        args,
        f"experiment {cfg.name} ({cfg.kind}{', quick' if args.quick else ''}): "
        f"{cfg.n_splits} folds x {len(cfg.seeds)} seeds x {len(cfg.train_subjects)} sizes, "
        f"arms {', '.join(cfg.arms)}",
    )
    results = run_experiment(
        cfg,
        out,
        jobs=args.jobs,
        device=args.device,
        progress=_progress(args),
        backend=args.backend,
        gans_from=args.gans_from,
    )
    summary = summarise(results, out)
    _say(args, _headline(summary.read_text(encoding="utf-8")))
    _say(args, f"wrote {results}, {summary} (per-class tables) and figures in {out}")
    return 0


def _headline(markdown: str) -> str:
    """The summary's title, note and first table: what a terminal shows of ``summary.md``."""
    lines = markdown.splitlines()
    out: list[str] = []
    in_table = False
    for line in lines:
        if line.startswith("|"):
            in_table = True
        elif in_table:
            break
        out.append(line)
    return "\n".join(out).strip()


def _add_experiment(sub) -> None:
    p = _command(sub, "experiment", _cmd_experiment)
    p.add_argument(
        "config", type=Path, help="experiment config, e.g. experiments/watch_augmentation.toml"
    )
    _out_option(p, _out_dir, "results folder")
    p.add_argument("--jobs", type=_positive_int, default=1, help="parallel units (joblib)")
    p.add_argument(
        "--backend",
        default="loky",
        metavar="NAME",
        help="joblib backend that runs the units: loky (default, local processes), dask (the "
        "scheduler at DASK_SCHEDULER_ADDRESS; pip install imusynth[cluster]) or ray; on a "
        "cluster, --jobs is the number of units one machine runs at once (it sizes torch's "
        "threads)",
    )
    p.add_argument("--quick", action="store_true", help="the config's small [quick] grid")
    p.add_argument(
        "--gans-from",
        type=Path,
        metavar="DIR",
        help="start with the finished GANs of the results folder DIR (linked, not retrained), "
        "e.g. to run other arms or classifier seeds on them; refused unless they were trained "
        "on the same data, folds, rare-class cut and GAN config",
    )

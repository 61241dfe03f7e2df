"""One unit (fold x seed) of a rebalancing study, a few arms, with extra GAN overrides.

The full study (``imusynth experiment experiments/watch_rebalancing.toml``) trains ten GANs;
this reruns one of its units, with the same training set, rare-class cut, GAN seed and
classifier seed as the study, so that a GAN setting can be compared on it in minutes
instead of hours. The arms that do not depend on the overrides (e.g. ``smote``) reproduce
the study's rows exactly; compare the cGAN row with the study's row for the same unit.

Usage::

    python benchmarks/rebalancing_unit.py --fold 0 --seed 1 --out runs/reb-unit \\
        --arms smote,cgan:kinematic --set train.class_balance=1

Prints one line per arm: macro-F1 and the recall of the rare classes on the fold's test
subjects.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from imusynth.experiments.config import load_experiment
from imusynth.experiments.grid import Unit, load_data, make_folds
from imusynth.experiments.run import _unit_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/watch_rebalancing.toml")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="the study's CV seed")
    parser.add_argument("--arms", default="smote,cgan:kinematic")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="GAN config override (after the study's own)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="folder for the unit's GANs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_experiment(args.config)
    cfg = dataclasses.replace(
        cfg,
        grid=dataclasses.replace(cfg.grid, arms=args.arms.split(",")),
        gan=dataclasses.replace(cfg.gan, set=[*cfg.gan.set, *args.set]),
    )
    ws = load_data(cfg.data)
    split = make_folds(cfg, ws)[args.fold]
    args.out.mkdir(parents=True, exist_ok=True)
    for k in cfg.grid.train_subjects:
        rows = _unit_rows(cfg, ws, split, Unit(args.fold, args.seed, k), set(), args.out, "cpu")
        for r in rows:
            print(
                f"fold {args.fold} seed {args.seed} subjects {k} {r['arm']:16s} "
                f"macro-F1 {r['macro_f1']:.3f} rare-class recall {r['minority_recall']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

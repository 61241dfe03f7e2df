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
subjects; then, for each generator the arms use, the share of its GAN's windows of each
class (60 per class) that a forest trained on the unit's uncut real training windows assigns
to that class (TRTS per class: does the GAN make each exercise, the rare ones too?).
Pointing ``--out`` at a study's results folder reuses (never retrains) the GANs it cached
in ``gans/``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from imusynth.experiments.config import load_experiment
from imusynth.experiments.grid import Unit, load_data, make_folds, training_set
from imusynth.experiments.run import _unit_rows
from imusynth.gan import load_run, sample_windows
from imusynth.models.features import FeatureRandomForest


def class_trts(run_dir: Path, forest: FeatureRandomForest, classes) -> dict[str, float]:
    """Share of a GAN's synthetic windows of each class that ``forest`` (fitted on the real
    training windows) calls so."""
    fake = sample_windows(load_run(run_dir, device="cpu"), dict.fromkeys(classes, 60), seed=0)
    pred = forest.predict(fake.X)
    return {c: float(np.mean(pred[fake.y == k] == k)) for k, c in enumerate(classes)}


def print_seed_spread(f1: dict[str, list[float]]) -> None:
    """Mean and sd of each arm's macro-F1 over classifier seeds, and each arm's paired
    difference against the first (same seed, same test subjects)."""
    arms = list(f1)
    for arm in arms:
        v = np.asarray(f1[arm])
        print(f"  {arm:16s} macro-F1 over {len(v)} classifier seeds: {v.mean():.3f} +- "
              f"{v.std(ddof=1):.3f} (min {v.min():.3f}, max {v.max():.3f})")  # fmt: skip
    for arm in arms[1:]:
        d = np.asarray(f1[arm]) - np.asarray(f1[arms[0]])
        print(f"  {arm} - {arms[0]}: {d.mean():+.3f} +- {d.std(ddof=1):.3f} "
              f"({int((d > 0).sum())}/{len(d)} seeds ahead)")  # fmt: skip


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
    parser.add_argument("--classifier-seeds", type=int, default=1, metavar="N",
                        help="train each arm's classifier with N seeds (the study's first) and "
                        "print the spread: how much of a paired difference is the classifier's "
                        "own seed")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_experiment(args.config)
    cfg = dataclasses.replace(
        cfg,
        grid=dataclasses.replace(cfg.grid, arms=args.arms.split(",")),
        gan=dataclasses.replace(cfg.gan, set=[*cfg.gan.set, *args.set]),
        classifier={**cfg.classifier, "seeds": 1},  # one per row; --classifier-seeds repeats
    )
    ws = load_data(cfg.data)
    split = make_folds(cfg, ws)[args.fold]
    args.out.mkdir(parents=True, exist_ok=True)
    for k in cfg.grid.train_subjects:
        unit = Unit(args.fold, args.seed, k)
        f1: dict[str, list[float]] = {}
        for repeat in range(args.classifier_seeds):
            for r in _unit_rows(cfg, ws, split, unit, set(), args.out, "cpu", clf_repeat=repeat):
                f1.setdefault(r["arm"], []).append(r["macro_f1"])
                print(
                    f"fold {args.fold} seed {args.seed} subjects {k} classifier seed {repeat} "
                    f"{r['arm']:16s} macro-F1 {r['macro_f1']:.3f} "
                    f"rare-class recall {r['minority_recall']:.3f}",
                    flush=True,
                )
        if args.classifier_seeds > 1:
            print_seed_spread(f1)
        # One GAN per generator, whichever arms use it; one forest per training set.
        generators = dict.fromkeys(g for a in cfg.grid.arms if (g := a.partition(":")[2]))
        if not generators:
            continue
        real = training_set(cfg, ws, split[0], Unit(args.fold, args.seed, k))
        forest = FeatureRandomForest(200, random_state=0).fit(real.X, real.y)
        for generator in generators:
            run_dir = args.out / "gans" / f"fold{args.fold}-seed{args.seed}-k{k}-{generator}"
            shares = class_trts(run_dir, forest, real.classes)
            said = ", ".join(f"{c} {v:.2f}" for c, v in shares.items())
            print(f"  {generator} GAN's windows called their class: {said}", flush=True)


if __name__ == "__main__":
    main()

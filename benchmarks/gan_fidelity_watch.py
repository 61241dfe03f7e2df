"""Do the watch GAN's windows look like their exercise? TRTS, TSTR and TRTR, both generators.

Protocol (Esteban et al. 2017): subjects 1-8 of the watch data train everything; subjects 9-10
are only ever test data.

* TRTR: a classifier trained on real windows of subjects 1-8, tested on real 9-10.
* TRTS: the same classifier tested on synthetic windows (does each window look like its class
  to a model of real data?).
* TSTR: the same kind of classifier trained on synthetic windows only (as many per class as
  the real training set has), tested on real 9-10 (is the synthetic data useful?).
* The discriminative score (TimeGAN) of synthetic vs real training windows: 0 means a post-hoc
  random forest cannot tell them apart, 0.5 means it always can.

Usage::

    python benchmarks/gan_fidelity_watch.py --threads 1 \\
        --out experiments/results/gan_fidelity_watch.md

Each generator trains with experiments/watch_cgan.toml (``--set`` adds overrides); runs go to
``--runs`` and are reused with ``--reuse``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from imusynth.data import load_windows
from imusynth.gan import load_run, sample_windows, train_run
from imusynth.metrics import discriminative_score, tstr_trts
from imusynth.models.features import FeatureRandomForest
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.classifiers import CNNClassifier
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME

TRAIN_SUBJECTS = {str(s) for s in range(1, 9)}
TEST_SUBJECTS = {"9", "10"}


def classifiers(device: str, epochs: int) -> dict:
    return {
        "random forest (window features)": lambda: FeatureRandomForest(300, random_state=0),
        "CNN (Frid-Adar)": lambda: CNNClassifier(
            "frid_adar", epochs=epochs, patience=8, random_state=0, device=device
        ),
    }


def trained_run(config_path, generator, overrides, runs: Path, train, reuse, device):
    out = runs / generator
    cfg = load_config(config_path, [f"model.generator={generator}", *overrides])
    done = reuse and (out / CHECKPOINT_NAME).exists()
    if done and load_checkpoint(out / CHECKPOINT_NAME)["step"] >= cfg.train.steps:
        return load_run(out, device=device), None
    start = time.perf_counter()
    run = train_run(cfg, train, out, device=device, resume=done)
    return run, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/watch_cgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--generators", default="conv1d,kinematic")
    parser.add_argument("--runs", type=Path, default=Path("runs/gan_fidelity_watch"))
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs in --runs")
    parser.add_argument("--cnn-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--out", type=Path, default=None, help="write a markdown report here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.runs.mkdir(parents=True, exist_ok=True)

    ws = load_windows("data_specs/watch.toml")
    train = ws.subset(np.isin(ws.groups, sorted(TRAIN_SUBJECTS)))
    test = ws.subset(np.isin(ws.groups, sorted(TEST_SUBJECTS)))
    counts = train.class_counts()
    print(f"train {len(train)} windows (subjects 1-8), test {len(test)} (9-10)", flush=True)

    makers = classifiers(args.device, args.cnn_epochs)
    real_models = {}
    for name, make in makers.items():
        start = time.perf_counter()
        real_models[name] = make().fit(train.X, train.y, groups=train.groups)
        print(f"fitted {name} on real in {time.perf_counter() - start:.0f}s", flush=True)

    rows, notes = [], []
    for generator in args.generators.split(","):
        run, seconds = trained_run(
            args.config, generator, args.set, args.runs, train, args.reuse, args.device
        )
        took = "reused" if seconds is None else f"{seconds / 60:.1f} min"
        notes.append(
            f"- `{generator}`: {run.step} steps ({took}), run folder `{args.runs / generator}`"
        )
        synth = sample_windows(run, counts, seed=args.seed)
        disc = discriminative_score(train.X, synth.X, classifier="features", seed=0)
        for name, make in makers.items():
            rep = tstr_trts(
                make, train.X, train.y, synth.X, synth.y, test.X, test.y,
                real_model=real_models[name], labels=np.arange(ws.n_classes),
                class_names=ws.classes,
            )  # fmt: skip
            rows.append((generator, name, rep, disc))
            print(
                f"{generator:9s} {name:32s} TRTR {rep['trtr']['accuracy']:.3f} "
                f"TSTR {rep['tstr']['accuracy']:.3f} TRTS {rep['trts']['accuracy']:.3f} "
                f"disc {disc:.3f}",
                flush=True,
            )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report(rows, notes, args, counts), encoding="utf-8")
        print(f"wrote {args.out}")


def report(rows, notes, args, counts) -> str:
    cmd = "python " + " ".join(sys.argv)
    lines = [
        "# Watch cGAN fidelity: TRTS, TSTR, TRTR",
        "",
        "Subjects 1-8 of the Burns et al. 2018 watch data (seglearn) train the GAN and the",
        "real-data classifiers; subjects 9-10 are test data only. 5 s windows, 50 % overlap.",
        f"Synthetic sets have as many windows per class as the real training set ({counts}).",
        "",
        f"Reproduce: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s), device {args.device}.",
        "",
        *notes,
        "",
        "| generator | classifier | TRTR acc | TSTR acc | TRTS acc | TRTR F1 | TSTR F1 | TRTS F1 "
        "| discriminative score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for generator, name, rep, disc in rows:
        acc = [rep[k]["accuracy"] for k in ("trtr", "tstr", "trts")]
        f1 = [rep[k]["macro_f1"] for k in ("trtr", "tstr", "trts")]
        lines.append(
            f"| {generator} | {name} | "
            + " | ".join(f"{v:.3f}" for v in acc + f1)
            + f" | {disc:.3f} |"
        )
    lines += [
        "",
        "TRTR, TSTR: accuracy on real windows of subjects 9-10. TRTS: accuracy of the real-data",
        "classifier on the synthetic windows. Discriminative score: |accuracy - 0.5| of a random",
        "forest telling synthetic from real training windows (lower is better).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

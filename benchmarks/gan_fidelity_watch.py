"""Do the watch GAN's windows look like their exercise, and can judges tell them from real?

Protocol (Esteban et al. 2017): subjects 1-8 of the watch data train everything; subjects 9-10
are only ever test data.

* TRTR: a classifier trained on real windows of subjects 1-8, tested on real 9-10.
* TRTS: the same classifier tested on synthetic windows (does each window look like its class
  to a model of real data?).
* TSTR: the same kind of classifier trained on synthetic windows only (as many per class as
  the real training set has), tested on real 9-10 (is the synthetic data useful?). TSTR/TRTR
  is printed for both classifier families, a forest on window features and a CNN.
* Subject-held-out discriminative scores (:mod:`imusynth.metrics.judges`) of synthetic vs real
  training windows, by a forest on window features and by a CNN: the judge is tested on real
  subjects it did not train on. Each is printed beside its floor, the same judge on real vs
  real windows of disjoint training subjects. 0 means indistinguishable, 0.5 always told apart.
* TimeGAN's post-hoc GRU discriminative and predictive scores (split by window, as published)
  so the figures can be set beside published tables; their references use the real windows of
  subjects 9-10 in place of the synthetic ones.

Usage::

    python benchmarks/gan_fidelity_watch.py --threads 1 \\
        --out experiments/results/gan_fidelity_watch.md

Each generator trains with imusynth/configs/watch_cgan.toml (``--set`` adds overrides); runs go to
``--runs`` and are reused with ``--reuse``. ``--train-seeds 0,1,2`` trains each generator once
per seed (``train.seed``: the networks' initial weights, the batches and the validation
subjects of checkpoint selection) into ``RUNS/GENERATOR-seedS`` and adds a table of each
figure's mean and sd over the seeds: one run's figures move with its seed by more than most
changes of the config do. With ``--out``, the figures also go to a JSON file beside the
report. A smoke run: ``--set train.steps=20 --generators
conv1d --cnn-epochs 1 --judge-cnn-epochs 1 --judge-repeats 2 --gru-iterations 5,5``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from extreme_windows import shares

from imusynth.data import load_windows
from imusynth.gan import load_run, sample_windows, train_run
from imusynth.metrics import (
    heldout_discriminative_floor,
    heldout_discriminative_score,
    timegan_discriminative_score,
    timegan_predictive_score,
    tstr_trts,
)
from imusynth.metrics.judges import JUDGE_CNN_EPOCHS
from imusynth.models.features import FeatureRandomForest
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.classifiers import CNNClassifier
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME

TRAIN_SUBJECTS = {str(s) for s in range(1, 9)}
TEST_SUBJECTS = {"9", "10"}
FOREST, CNN = "random forest (window features)", "CNN (Frid-Adar)"
SHORT = {FOREST: "forest", CNN: "CNN"}  # their labels in the JSON and the seeds table


def classifiers(device: str, epochs: int) -> dict:
    return {
        FOREST: lambda: FeatureRandomForest(300, random_state=0),
        CNN: lambda: CNNClassifier(
            "frid_adar", epochs=epochs, patience=8, random_state=0, device=device
        ),
    }


def judges(device: str, cnn_epochs: int) -> dict:
    """The held-out judges: the forest on judge features, and a CNN (no early stopping)."""

    def cnn():  # a shorter CNN judge (smoke runs); "cnn" has the library's epochs and seeds
        return CNNClassifier(
            "frid_adar",
            epochs=cnn_epochs,
            val_fraction=0.0,
            patience=None,
            device=device,
            random_state=0,
        )

    return {"forest": "features", "CNN": "cnn" if cnn_epochs == JUDGE_CNN_EPOCHS else cnn}


def trained_run(config_path, generator, overrides, out: Path, train, reuse, device):
    """The run in ``out`` (trained, or with ``reuse`` finished or resumed there) and how long
    this call trained it: ``"reused"``, ``"N min"``, or ``"resumed at step S, N min more"``
    (the time of the earlier steps is not known here)."""
    cfg = load_config(config_path, [f"model.generator={generator}", *overrides])
    done = reuse and (out / CHECKPOINT_NAME).exists()
    at = load_checkpoint(out / CHECKPOINT_NAME)["step"] if done else 0
    if done and at >= cfg.train.steps:
        return load_run(out, device=device), "reused"
    start = time.perf_counter()
    run = train_run(cfg, train, out, device=device, resume=done)
    minutes = f"{(time.perf_counter() - start) / 60:.1f} min"
    return run, f"resumed at step {at}, {minutes} more" if at else minutes


def usefulness(make, real_model, train, synth, test) -> dict:
    """TRTR, TSTR and TRTS (:func:`~imusynth.metrics.tstr_trts`) of one classifier family:
    ``make`` builds it, ``real_model`` is the one already fit on ``train``."""
    return tstr_trts(
        make, train.X, train.y, synth.X, synth.y, test.X, test.y,
        real_model=real_model, labels=np.arange(train.n_classes), class_names=train.classes,
    )  # fmt: skip


def judged(judge_kinds: dict, train, synth, kw: dict) -> dict:
    """Each held-out judge's score of ``synth`` against the real ``train`` windows."""
    return {
        name: heldout_discriminative_score(
            train.X, train.groups, synth.X, synth.groups,
            y_real=train.y, y_fake=synth.y, classifier=kind, **kw,
        )
        for name, kind in judge_kinds.items()
    }  # fmt: skip


def gru_scores(real, other, iterations, device) -> dict:
    n_disc, n_pred = iterations
    return {
        "disc": timegan_discriminative_score(real, other, iterations=n_disc, device=device),
        "pred": timegan_predictive_score(real, other, iterations=n_pred, device=device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="watch_cgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--generators", default="conv1d,kinematic")
    parser.add_argument("--runs", type=Path, default=Path("runs/gan_fidelity_watch"))
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs in --runs")
    parser.add_argument("--cnn-epochs", type=int, default=40)
    parser.add_argument("--judge-cnn-epochs", type=int, default=JUDGE_CNN_EPOCHS)
    parser.add_argument("--judge-repeats", type=int, default=5, help="subject splits per judge")
    parser.add_argument(
        "--gru-iterations", default="2000,5000", help="TimeGAN discriminator,predictor"
    )
    parser.add_argument("--no-gru", action="store_true", help="skip TimeGAN's GRU judges")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument(
        "--train-seeds", default="", help="train.seed values, one run each (default: the config's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write a markdown report here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.runs.mkdir(parents=True, exist_ok=True)
    gru_iterations = tuple(int(v) for v in args.gru_iterations.split(","))

    ws = load_windows("watch.toml")
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

    # References that do not depend on the generator: computed once.
    judge_kinds = judges(args.device, args.judge_cnn_epochs)
    kw = {"n_repeats": args.judge_repeats, "seed": 0, "device": args.device}
    floors = {}
    for name, kind in judge_kinds.items():
        start = time.perf_counter()
        floors[name] = heldout_discriminative_floor(
            train.X, train.groups, y=train.y, classifier=kind, **kw
        )
        took = time.perf_counter() - start
        print(f"held-out {name} judge, real vs real floor {floors[name]} ({took:.0f}s)", flush=True)
    gru_ref = None
    if not args.no_gru:
        gru_ref = gru_scores(train.X, test.X, gru_iterations, args.device)
        print(
            f"TimeGAN GRU, real 1-8 vs real 9-10: disc {gru_ref['disc']} pred {gru_ref['pred']}",
            flush=True,
        )

    seeds = [int(v) for v in args.train_seeds.split(",") if v.strip()]
    arms = [
        (generator, seed) for generator in args.generators.split(",") for seed in seeds or [None]
    ]
    rows, judge_rows, notes, figures = [], [], [], []
    for generator, seed in arms:
        overrides = [*args.set, *([] if seed is None else [f"train.seed={seed}"])]
        label = generator if seed is None else f"{generator} seed {seed}"
        out = args.runs / (generator if seed is None else f"{generator}-seed{seed}")
        run, took = trained_run(
            args.config, generator, overrides, out, train, args.reuse, args.device
        )
        steps = f"{run.config.train.steps} steps"
        if run.validation_subjects:  # checkpoint selection: the sampled step was chosen
            steps += (
                f", step {run.step} chosen on validation subjects "
                f"{', '.join(run.validation_subjects)} (held out of the GAN's training data)"
            )
        notes.append(f"- `{label}`: {steps} ({took}), run folder `{out}`")
        synth = sample_windows(run, counts, seed=args.seed)
        scores = judged(judge_kinds, train, synth, kw)
        gru = None if args.no_gru else gru_scores(train.X, synth.X, gru_iterations, args.device)
        judge_rows.append((label, scores, gru))
        extreme, _ = shares(synth.X, synth.y, ws.classes)
        figure = {"generator": generator, "train_seed": seed, "step": run.step}
        figure |= {f"judge {name}": score.mean for name, score in scores.items()}
        figure["extreme windows"] = extreme
        print(
            f"{label:9s} held-out forest {scores['forest']} [floor {floors['forest']}], "
            f"CNN {scores['CNN']} [floor {floors['CNN']}]"
            + ("" if gru is None else f"; TimeGAN GRU disc {gru['disc']} pred {gru['pred']}"),
            flush=True,
        )
        for name, make in makers.items():
            rep = usefulness(make, real_models[name], train, synth, test)
            rows.append((label, name, rep))
            ratio = rep["tstr"]["accuracy"] / rep["trtr"]["accuracy"]
            figure[f"{SHORT[name]} TSTR/TRTR"] = ratio
            figure[f"{SHORT[name]} TRTS"] = rep["trts"]["accuracy"]
            print(
                f"{label:9s} {name:32s} TRTR {rep['trtr']['accuracy']:.3f} "
                f"TSTR {rep['tstr']['accuracy']:.3f} TRTS {rep['trts']['accuracy']:.3f} "
                f"TSTR/TRTR {ratio:.2f}",
                flush=True,
            )
        figures.append(figure)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = report(rows, judge_rows, floors, gru_ref, notes, args, counts)
        if seeds:
            text += "\n" + over_seeds(figures)
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n")
        print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


def over_seeds(figures: list[dict]) -> str:
    """Markdown: each generator's figures as mean ± sd over its training seeds."""
    keys = [k for k in figures[0] if k not in ("generator", "train_seed", "step")]
    lines = [
        "## Over training seeds",
        "",
        "| generator | seeds | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for generator in dict.fromkeys(f["generator"] for f in figures):
        mine = [f for f in figures if f["generator"] == generator]
        cells = []
        for key in keys:
            values = np.array([f[key] for f in mine])
            sd = f" ± {values.std(ddof=1):.2f}" if len(values) > 1 else ""
            cells.append(f"{values.mean():.2f}{sd}")
        seeds = ", ".join(str(f["train_seed"]) for f in mine)
        lines.append(f"| {generator} | {seeds} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Mean ± sd (n - 1) over the training seeds, one run each; judges: the held-out scores'",
        "means over their subject splits; extreme windows: the share peaking above 3 g or",
        "12 rad/s (real windows of subjects 1-8: 3.8 %).",
        "",
    ]
    return "\n".join(lines)


def report(rows, judge_rows, floors, gru_ref, notes, args, counts) -> str:
    cmd = "python " + " ".join(sys.argv)
    lines = [
        "# Watch cGAN fidelity: TRTS, TSTR, TRTR and judges",
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
        "## Usefulness",
        "",
        "| generator | classifier | TRTR acc | TSTR acc | TRTS acc | TSTR/TRTR | TRTR F1 "
        "| TSTR F1 | TRTS F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for generator, name, rep in rows:
        acc = [rep[k]["accuracy"] for k in ("trtr", "tstr", "trts")]
        f1 = [rep[k]["macro_f1"] for k in ("trtr", "tstr", "trts")]
        cells = [f"{v:.3f}" for v in acc] + [f"{acc[1] / acc[0]:.2f}"] + [f"{v:.3f}" for v in f1]
        lines.append(f"| {generator} | {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "TRTR, TSTR: accuracy on real windows of subjects 9-10. TRTS: accuracy of the real-data",
        "classifier on the synthetic windows.",
        "",
        "## Judges (0 = indistinguishable, 0.5 = always told apart)",
        "",
        "| windows | held-out forest | held-out CNN | TimeGAN GRU disc | TimeGAN GRU pred (MAE) |",
        "|---|---|---|---|---|",
    ]
    gru_cells = ("not run", "not run")
    if gru_ref is not None:
        gru_cells = (str(gru_ref["disc"]), str(gru_ref["pred"]))
    lines.append(
        f"| real vs real (reference) | {floors['forest']} | {floors['CNN']} | "
        f"{gru_cells[0]} | {gru_cells[1]} |"
    )
    for generator, scores, gru in judge_rows:
        g = ("not run", "not run") if gru is None else (str(gru["disc"]), str(gru["pred"]))
        lines.append(f"| {generator} | {scores['forest']} | {scores['CNN']} | {g[0]} | {g[1]} |")
    lines += [
        "",
        f"Held-out judges: mean ± sd over {args.judge_repeats} subject splits; the real windows",
        "of subjects 1-8 are split by subject, the judge is tested on subjects it did not train",
        "on. Their reference row is the floor: the same judge on real vs real windows of",
        "disjoint subjects of 1-8 (four parts). Forest: 200 trees on window features with jerk",
        f"and 8 equal-width spectral bands; CNN: Frid-Adar, {args.judge_cnn_epochs} epochs.",
        f"TimeGAN GRU (iterations {args.gru_iterations}): windows split at random as published",
        "(comparable with published tables: TimeGAN 0.10 stocks - 0.24 energy, HAR IMU GANs",
        "0.45-0.50), not with the held-out scores; the reference row trains on real windows of",
        "subjects 9-10 in place of synthetic ones. Predictive score: MAE of the last channel",
        "predicted one step ahead on real 1-8 by a GRU trained on the other set (lower is better).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Fidelity ablation of the watch cGAN: one GAN config per call, judged with subjects held out.

Protocol (issue #12): subjects 1-8 of the watch data train the GAN; subjects 9-10 are only
test data for TSTR. Per call this script

1. trains one GAN with ``imusynth/configs/watch_cgan.toml`` plus ``--set`` overrides on subjects
   1-8 (the run goes to ``runs/fidelity_ablation/<name>``; ``--reuse`` skips training when
   the run is finished) and samples 300 windows per class (sides as the data has them);
2. the subject-held-out judge: a random forest (200 trees) on window features (moments,
   percentiles, autocorrelation, 8 equal-width spectral bands per channel and magnitude,
   plus the std of the first difference of every channel) is trained on synthetic vs real
   windows of four of the subjects 1-8 and tested on other synthetic windows vs real windows
   of the other four. Per class, both sides of each half have as many windows as the real
   half (so neither class balance nor set size can be a cue). Score: ``|accuracy - 0.5|``,
   mean +- sd over 3 splits of the subjects. Floor: the same judge on real vs real, with four
   disjoint subjects playing each role (two to train, two to test);
3. forest TSTR (300 trees) on subjects 9-10 (trained on the synthetic windows) against TRTR
   (trained on real subjects 1-8), optionally the CNN too (``--cnn-epochs``);
4. the three features that separate synthetic from real best (single-feature AUC on all of
   subjects 1-8 vs all synthetic windows), with their medians;

and appends one row to ``experiments/results/fidelity_ablation.md``. Usage::

    OMP_NUM_THREADS=1 python benchmarks/fidelity_ablation.py --name baseline \\
        --set train.steps=600

``--judge-only DIR`` judges the run already in DIR (no training).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from imusynth.data import load_windows
from imusynth.gan import load_run, sample_windows, train_run
from imusynth.models.features import FeatureRandomForest, feature_names, window_features
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.config import load_config
from imusynth.train.loop import CHECKPOINT_NAME

TRAIN_SUBJECTS = [str(s) for s in range(1, 9)]
TEST_SUBJECTS = ["9", "10"]
BANDS = tuple(np.linspace(0.0, 1.0, 9))  # 8 equal-width bands of 3.125 Hz at 50 Hz
PER_CLASS = 300
N_SPLITS = 3
TABLE_HEAD = [
    "| name | overrides | steps | judge (held-out) | floor | forest TSTR / TRTR | ratio "
    "| CNN TSTR / TRTR | top separating features (real / synth median) | train min |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def judge_features(X: np.ndarray) -> np.ndarray:
    """Window features with 8 equal-width bands plus the std of first differences."""
    base = window_features(X, bands=BANDS)
    jerk = np.diff(X.astype(np.float64), axis=2).std(axis=2)  # (N, C)
    return np.concatenate([base, jerk.astype(np.float32)], axis=1)


def judge_names(channels) -> list[str]:
    return feature_names(len(channels), list(channels), bands=BANDS) + [
        f"{c}_diffstd" for c in channels
    ]


def _match(rng, F_src, y_src, counts) -> np.ndarray:
    """Rows of ``F_src`` drawn per class to ``counts`` (without replacement)."""
    idx = []
    for c, n in enumerate(counts):
        pool = np.flatnonzero(y_src == c)
        idx.append(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return F_src[np.concatenate(idx)]


def _forest_score(F0_tr, F1_tr, F0_te, F1_te, seed) -> float:
    n_tr, n_te = min(len(F0_tr), len(F1_tr)), min(len(F0_te), len(F1_te))
    rng = np.random.default_rng(seed)
    F0_tr, F1_tr = (f[rng.permutation(len(f))[:n_tr]] for f in (F0_tr, F1_tr))
    F0_te, F1_te = (f[rng.permutation(len(f))[:n_te]] for f in (F0_te, F1_te))
    forest = RandomForestClassifier(200, random_state=seed, n_jobs=1)
    forest.fit(np.concatenate([F0_tr, F1_tr]), np.repeat([0, 1], n_tr))
    acc = forest.score(np.concatenate([F0_te, F1_te]), np.repeat([0, 1], n_te))
    return abs(acc - 0.5)


def held_out_judge(F_real, y_real, g_real, F_syn, y_syn, n_classes) -> tuple[list, list]:
    """(scores, floors) over ``N_SPLITS`` splits of the training subjects."""
    scores, floors = [], []
    for s in range(N_SPLITS):
        rng = np.random.default_rng(100 + s)
        subj = rng.permutation(TRAIN_SUBJECTS)
        a, b = np.isin(g_real, subj[:4]), np.isin(g_real, subj[4:])
        half = rng.permutation(len(F_syn)) < len(F_syn) // 2
        cnt = [np.bincount(y_real[m], minlength=n_classes) for m in (a, b)]
        syn_tr = _match(rng, F_syn[half], y_syn[half], cnt[0])
        syn_te = _match(rng, F_syn[~half], y_syn[~half], cnt[1])
        scores.append(_forest_score(F_real[a], syn_tr, F_real[b], syn_te, seed=s))
        # Floor: subjects subj[0:2] vs subj[4:6] to train, subj[2:4] vs subj[6:8] to test.
        roles = [np.isin(g_real, subj[i : i + 2]) for i in (0, 4, 2, 6)]
        floors.append(_forest_score(*(F_real[m] for m in roles), seed=s))
    return scores, floors


def top_features(F_real, F_syn, names, k=3) -> list[tuple[str, float, float, float]]:
    labels = np.repeat([0, 1], [len(F_real), len(F_syn)])
    F = np.concatenate([F_real, F_syn])
    aucs = np.array([roc_auc_score(labels, F[:, j]) for j in range(F.shape[1])])
    order = np.argsort(-np.abs(aucs - 0.5))[:k]
    return [
        (names[j], aucs[j], float(np.median(F_real[:, j])), float(np.median(F_syn[:, j])))
        for j in order
    ]


def trained_run(args, train, device):
    out = args.runs / args.name
    cfg = load_config(args.config, args.set)
    done = (out / CHECKPOINT_NAME).exists()
    if args.reuse and done and load_checkpoint(out / CHECKPOINT_NAME)["step"] >= cfg.train.steps:
        return load_run(out, device=device), None, cfg
    start = time.perf_counter()
    run = train_run(cfg, train, out, device=device, plots=False)
    return run, time.perf_counter() - start, cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--config", default="watch_cgan.toml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--runs", type=Path, default=Path("runs/fidelity_ablation"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--cnn-epochs", type=int, default=0, help="0: no CNN TSTR")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--out", type=Path, default=Path("experiments/results/fidelity_ablation.md")
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ws = load_windows("watch.toml")
    train = ws.subset(np.isin(ws.groups, TRAIN_SUBJECTS))
    test = ws.subset(np.isin(ws.groups, TEST_SUBJECTS))
    run, seconds, cfg = trained_run(args, train, "cpu")
    synth = sample_windows(run, PER_CLASS, seed=args.seed)
    np.savez_compressed(args.runs / args.name / "synthetic.npz", X=synth.X, y=synth.y)

    F_real, F_syn = judge_features(train.X), judge_features(synth.X)
    scores, floors = held_out_judge(F_real, train.y, train.groups, F_syn, synth.y, ws.n_classes)
    tops = top_features(F_real, F_syn, judge_names(ws.channels))

    def forest():
        return FeatureRandomForest(300, random_state=0, n_jobs=1)

    trtr = forest().fit(train.X, train.y).score(test.X, test.y)
    tstr = forest().fit(synth.X, synth.y).score(test.X, test.y)
    cnn = "-"
    if args.cnn_epochs:
        from imusynth.models.classifiers import CNNClassifier

        def net():
            return CNNClassifier("frid_adar", epochs=args.cnn_epochs, random_state=0)

        c_trtr = net().fit(train.X, train.y).score(test.X, test.y)
        c_tstr = net().fit(synth.X, synth.y).score(test.X, test.y)
        cnn = f"{c_tstr:.3f} / {c_trtr:.3f}"

    took = "reused" if seconds is None else f"{seconds / 60:.1f}"
    feats = "; ".join(f"{n} (AUC {a:.2f}): {r:.2f} / {s:.2f}" for n, a, r, s in tops)
    feats = feats.replace("|", "\\|")  # magnitude names like |ax,ay,az| inside a table
    overrides = " ".join(f"`{o}`" for o in args.set) or "(default)"
    row = (
        f"| {args.name} | {overrides} | {cfg.train.steps} | "
        f"{np.mean(scores):.3f} +- {np.std(scores):.3f} | "
        f"{np.mean(floors):.3f} +- {np.std(floors):.3f} | {tstr:.3f} / {trtr:.3f} | "
        f"{tstr / trtr:.2f} | {cnn} | {feats} | {took} |"
    )
    print(row, flush=True)
    cmd = "OMP_NUM_THREADS=1 python " + " ".join(shlex.quote(a) for a in sys.argv)
    append_row(args.out, row, f"- {args.name}: `{cmd}`" + (f" -- {args.note}" if args.note else ""))


def append_row(path: Path, row: str, command: str) -> None:
    """Insert ``row`` at the end of the table and ``command`` at the end of the file."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "<!-- rows -->" not in text:
        text = "\n".join(
            ["# Fidelity ablation", "", *TABLE_HEAD, "<!-- rows -->", "", "## Commands", ""]
        )
    text = text.replace("<!-- rows -->", f"{row}\n<!-- rows -->", 1).rstrip("\n")
    path.write_text(f"{text}\n{command}\n", encoding="utf-8")


if __name__ == "__main__":
    main()

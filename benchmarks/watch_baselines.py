"""Real-data baselines on the smartwatch exercise data (Burns et al. 2018, seglearn subset).

Subject-wise 5-fold cross-validation of the three classifiers of imusynth: the Frid-Adar CNN
in 1D, the residual 1D CNN and the feature random forest. 5 s windows (250 samples at
50 Hz) with a stride of 125 samples, as in ``imusynth/configs/watch.toml``.

The residual CNN is tuned honestly by nested cross-validation: inside each outer training
fold, every candidate of a small, fixed grid is scored by an inner subject-wise k-fold, the
best (macro-F1) is refit on the whole outer training fold and scored once on the outer test
subjects. The fixed candidates are also reported one by one, for information only.

Usage::

    python benchmarks/watch_baselines.py --markdown experiments/results/watch_baselines.md
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

from imusynth.config import BUNDLED_DIR
from imusynth.data import load_windows, subject_kfold
from imusynth.metrics import classification_metrics
from imusynth.models.features import FeatureRandomForest
from imusynth.train.classifiers import CNNClassifier

ROOT = Path(__file__).resolve().parent.parent

# Candidates of the residual CNN, fixed before looking at any result.
RESNET_GRID: dict[str, dict] = {
    "es": {"epochs": 60, "val_fraction": 0.2, "patience": 10},
    "fixed40": {"epochs": 40, "val_fraction": 0.0},
    "fixed40_reg": {"epochs": 40, "val_fraction": 0.0, "dropout": 0.5, "weight_decay": 0.05},
    "fixed40_stats": {"epochs": 40, "val_fraction": 0.0, "window_stats": True},
    "fixed40_winnorm_stats": {
        "epochs": 40,
        "val_fraction": 0.0,
        "window_norm": True,
        "window_stats": True,
    },
}


def make(name: str, params: dict, seed: int):
    if name == "rf":
        return FeatureRandomForest(random_state=seed, **params)
    return CNNClassifier(name, random_state=seed, **params)


def fit_score(name, params, ws, tr, te, seed) -> dict:
    t0 = time.time()
    clf = make(name, params, seed).fit(ws.X[tr], ws.y[tr], groups=ws.groups[tr])
    pred = clf.predict(ws.X[te])
    r = classification_metrics(
        ws.y[te], pred, labels=np.arange(len(ws.classes)), class_names=ws.classes
    )
    r["seconds"] = time.time() - t0
    hist = getattr(clf, "history_", None)
    r["epochs_run"] = len(hist.train_loss) if hist is not None else None
    return r


def nested_select(ws, tr, grid, inner_folds, seed) -> tuple[str, dict[str, float]]:
    """Pick the grid entry with the best inner subject-wise CV macro-F1 on ``tr`` only."""
    sub = ws.subset(tr)
    scores = {}
    for key, params in grid.items():
        f1 = []
        for itr, ite in subject_kfold(sub.groups, inner_folds, seed):
            f1.append(fit_score("resnet", params, sub, itr, ite, seed)["macro_f1"])
        scores[key] = float(np.mean(f1))
        print(f"    inner {key}: macro-F1 {scores[key]:.3f}", flush=True)
    return max(scores, key=scores.get), scores


def summary(rows: list[dict]) -> dict[str, float]:
    out = {}
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        v = np.array([r[key] for r in rows])
        out[key] = float(v.mean())
        out[key + "_sd"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    out["seconds"] = float(np.sum([r["seconds"] for r in rows]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(BUNDLED_DIR / "watch.toml"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--inner-folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="rf,frid_adar,resnet_fixed,resnet_nested")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared CPU)")
    ap.add_argument("--json", type=Path, help="write all per-fold results here")
    ap.add_argument("--markdown", type=Path, help="write the results table here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    ws = load_windows(args.spec)
    folds = subject_kfold(ws.groups, args.folds, args.seed)
    print(
        f"{len(ws)} windows {ws.X.shape[1:]}, {len(np.unique(ws.groups))} subjects, "
        f"classes {ws.class_counts()}",
        flush=True,
    )
    models = args.models.split(",")
    runs: dict[str, dict] = {}
    if "rf" in models:
        runs["rf"] = {"model": "rf", "params": {}}
    if "frid_adar" in models:
        runs["frid_adar"] = {"model": "frid_adar", "params": {}}
    if "resnet_fixed" in models:
        for key, params in RESNET_GRID.items():
            runs[f"resnet[{key}]"] = {"model": "resnet", "params": params}
    results: dict[str, list[dict]] = {}
    for label, run in runs.items():
        rows = []
        for k, (tr, te) in enumerate(folds):
            r = fit_score(run["model"], run["params"], ws, tr, te, args.seed)
            rows.append(r)
            print(
                f"{label} fold {k}: acc {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f} "
                f"({r['seconds']:.0f} s, epochs {r['epochs_run']})",
                flush=True,
            )
        results[label] = rows
    chosen = []
    if "resnet_nested" in models:
        rows = []
        for k, (tr, te) in enumerate(folds):
            print(f"resnet nested fold {k}: inner {args.inner_folds}-fold selection", flush=True)
            best, scores = nested_select(ws, tr, RESNET_GRID, args.inner_folds, args.seed)
            r = fit_score("resnet", RESNET_GRID[best], ws, tr, te, args.seed)
            r["selected"], r["inner_scores"] = best, scores
            rows.append(r)
            chosen.append(best)
            print(
                f"resnet nested fold {k}: chose {best}; acc {r['accuracy']:.3f} "
                f"macro-F1 {r['macro_f1']:.3f}",
                flush=True,
            )
        results["resnet[nested]"] = rows

    table = {label: summary(rows) for label, rows in results.items()}
    for label, s in table.items():
        print(
            f"{label:24s} acc {s['accuracy']:.3f} ± {s['accuracy_sd']:.3f}  "
            f"macro-F1 {s['macro_f1']:.3f} ± {s['macro_f1_sd']:.3f}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"summary": table, "folds": results}, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(args, ws, folds, table, results, chosen))
    return 0


def markdown(args, ws, folds, table, results, chosen) -> str:
    cmd = "python benchmarks/watch_baselines.py " + " ".join(sys.argv[1:])
    lines = [
        "# Watch data: real-data classifier baselines",
        "",
        f"Command: `{cmd.strip()}`",
        "",
        f"Data: `{Path(args.spec).name}`, {len(ws)} windows of {ws.X.shape[2]} samples "
        f"({ws.X.shape[2] / ws.sampling_rate_hz:g} s at {ws.sampling_rate_hz:g} Hz, stride "
        f"125), {len(np.unique(ws.groups))} subjects, subject-wise {args.folds}-fold CV "
        f"(`subject_kfold`, seed {args.seed}). Mean ± sd over folds. Torch "
        f"{torch.__version__}, {args.threads} thread(s), {platform.machine()} CPU.",
        "",
        "| model | accuracy | macro-F1 | balanced acc. | wall time (s, all folds) |",
        "|---|---|---|---|---|",
    ]
    for label, s in table.items():
        lines.append(
            f"| {label} | {s['accuracy']:.3f} ± {s['accuracy_sd']:.3f} | "
            f"{s['macro_f1']:.3f} ± {s['macro_f1_sd']:.3f} | "
            f"{s['balanced_accuracy']:.3f} ± {s['balanced_accuracy_sd']:.3f} | "
            f"{s['seconds']:.0f} |"
        )
    lines += [
        "",
        "Per fold (accuracy / macro-F1):",
        "",
        "| model | " + " | ".join(f"fold {k}" for k in range(len(folds))) + " |",
        "|---" * (len(folds) + 1) + "|",
    ]
    for label, rows in results.items():
        cells = [f"{r['accuracy']:.3f} / {r['macro_f1']:.3f}" for r in rows]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Test subjects per fold: "
        + "; ".join(
            f"{k}: {','.join(sorted(np.unique(ws.groups[te]).tolist()))}"
            for k, (_, te) in enumerate(folds)
        ),
        "",
        "Residual-CNN candidates (fixed in advance, `RESNET_GRID` in the script):",
        "",
    ]
    lines += [f"- `{k}`: `{v}`" for k, v in RESNET_GRID.items()]
    if chosen:
        lines += [
            "",
            f"`resnet[nested]` picks a candidate per outer fold by an inner subject-wise "
            f"{args.inner_folds}-fold CV on the outer training subjects only (macro-F1); "
            f"choices: {', '.join(chosen)}. It is the honest number for the tuned model; the "
            "fixed candidates' rows are for information and must not be cherry-picked.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""What an experiment reports: ``summary.md`` (mean ± sd tables, paired differences,
per-class sensitivity and specificity) and its figures, from ``results.csv``.

Every row of ``results.csv`` holds the test confusion matrix (``cm_<true>_<predicted>``),
from which :func:`summarise` writes per-class sensitivity and specificity tables in the
layout of Frid-Adar et al.'s Tables I, II and V.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.errors import DataError
from imusynth.experiments.config import DATA_INFO
from imusynth.experiments.grid import Wording, complete_text
from imusynth.metrics.classification import mean_interval, sensitivity_specificity

__all__ = ["confusion_matrix_of", "sensitivity_specificity_tables", "summarise"]

log = logging.getLogger(__name__)

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall")


def _fmt_added(value: float) -> str:
    """Windows added per class for a table: whole numbers as such, means to one decimal."""
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def summarise(
    results_csv: str | Path,
    out_dir: str | Path,
    classes: tuple[str, ...] = (),
    *,
    modality: str | None = None,
) -> Path:
    """Write ``summary.md`` (mean ± sd over folds and seeds) and the figures beside it.

    A partial last row of ``results_csv`` is left out, and a cell found more than once
    counts once (with a warning), so no cell weighs twice in a mean or a count.

    The summary ends with per-class sensitivity and specificity tables (see
    :func:`sensitivity_specificity_tables`); ``classes`` names the class codes and
    ``modality`` (``"image"`` or ``"windows"``) picks the wording, patients and images or
    subjects and windows (default for both: what ``run_experiment`` saved in ``data.json``
    beside the results).
    """
    import io

    import pandas as pd

    text = complete_text(Path(results_csv))[0] if Path(results_csv).is_file() else ""
    key_columns = ["fold", "seed", "train_subjects", "n_added", "arm"]
    if text.count("\n") < 2:
        raise DataError("no complete result rows to summarise", path=results_csv)
    df = pd.read_csv(io.StringIO(text))
    missing = [c for c in key_columns if c not in df]
    if missing:
        raise DataError("not an experiment's results table", path=results_csv, field=missing[0])
    df = df.dropna(subset=key_columns)
    n_dup = int(df.duplicated(subset=key_columns).sum())
    if n_dup:
        log.warning("%s: %d repeated row(s) of a cell ignored (first one kept)", results_csv, n_dup)
        df = df.drop_duplicates(subset=key_columns, keep="first")
    out = Path(out_dir)
    info = _saved_info(Path(results_csv).parent)
    if not classes:
        classes = tuple(info.get("classes", ()))
    words = Wording.of(modality or info.get("modality"))
    groups = words.groups
    keys = ["train_subjects", "n_added", "arm"]
    metrics = [m for m in METRICS if m in df and df[m].notna().any()]
    agg = df.groupby(keys)[metrics].agg(["mean", "std", "count"])
    lines = [
        f"# {df['experiment'].iloc[0]}",
        "",
        f"{df[['fold', 'seed']].drop_duplicates().shape[0]} fold x seed pairs; "
        f"mean ± sd over folds and seeds ({groups[:-1]}-wise CV).",
        "",
    ]
    if "classifier_seeds" in df and df["classifier_seeds"].max() > 1:
        n_seeds = int(df["classifier_seeds"].max())
        spread = df["macro_f1_seed_sd"].mean()
        lines += [
            f"Each cell's scores are the mean of {n_seeds} classifiers (seeds) trained on its "
            f"training set; their macro-F1 varies by {spread:.3f} (sd) on average within a "
            "cell, a noise every single-seed figure carries.",
            "",
        ]
    header = f"| {words.size_column} | added / class | arm | " + " | ".join(metrics) + " | n |"
    lines += [header, "|" + "---|" * (len(metrics) + 4)]
    totals = df.groupby(keys)["added_per_class"].mean() if "added_per_class" in df else None
    for (k, n, arm), row in agg.iterrows():
        cells = [f"{row[(m, 'mean')]:.3f} ± {row[(m, 'std')]:.3f}" for m in metrics]
        added = f"{n}"
        if totals is not None and abs(totals[(k, n, arm)] - n) > 0.5 and arm != "real":
            added += f" ({_fmt_added(totals[(k, n, arm)])} on average)"
        lines.append(
            f"| {k or 'all'} | {added} | {arm} | "
            + " | ".join(cells)
            + f" | {int(row[(metrics[0], 'count')])} |"
        )
    metric = metrics[0] if "macro_f1" not in metrics else "macro_f1"
    lines += ["", paired_table(df, metric, words)]
    # The comparison the studies are about: each GAN arm against the strongest classical
    # remedy of its kind, paired on the same fold, seed, size (and number added).
    rival = "classical" if "classical" in set(df["arm"]) else "smote"
    gan_arms = [a for a in dict.fromkeys(df["arm"]) if "cgan" in a.partition(":")[0]]
    panels = {default_base(df): paired_differences(df, metric, default_base(df))}
    if rival in set(df["arm"]) and gan_arms:
        lines += ["", paired_table(df, metric, words, base=rival, arms=gan_arms)]
        lines += ["", paired_class_table(df, rival, gan_arms, classes, words)]
        panels[rival] = paired_differences(df, metric, rival, gan_arms)
    tables = sensitivity_specificity_tables(df, classes, groups, words.added)
    if tables:
        lines += ["", tables]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    from imusynth.plots.experiments import caption, plot_experiment, plot_paired

    plot_experiment(df, out, groups=groups, added=words.added)
    if any(panels.values()):
        sizes = df["train_subjects"].nunique() > 1
        labels = {
            base: {
                _label(k, n, arm, words, sizes): d.to_numpy() for (k, n, arm), d in diffs.items()
            }
            for base, diffs in panels.items()
        }
        plot_paired(labels, metric, out / "paired.png", title=caption(df, "paired differences"))
    return path


def _label(k: int, n: int, arm: str, words: Wording, sizes: bool) -> str:
    """An arm's name in the paired figure, with the number added and, where the grid has
    several, the training size."""
    parts = [arm]
    if n:
        parts.append(f"+{n}")
    if sizes:
        parts.append(f"({k or 'all'} {words.groups})")
    return " ".join(parts)


def _saved_info(folder: Path) -> dict[str, Any]:
    """What ``run_experiment`` saved about the data (``data.json``), or ``{}``."""
    try:
        info = json.loads((folder / DATA_INFO).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def confusion_matrix_of(df, n_classes: int) -> np.ndarray:
    """The test confusion matrix summed over the rows of ``df`` (rows true, columns
    predicted); each test sample counts once per seed."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for i in range(n_classes):
        for j in range(n_classes):
            cm[i, j] = int(df[f"cm_{i}_{j}"].sum())
    return cm


def sensitivity_specificity_tables(
    df, classes: tuple[str, ...] = (), groups: str = "subjects", added: str = "samples"
) -> str:
    """Markdown confusion matrices with per-class sensitivity and specificity.

    One table per arm at its best number of added samples (highest mean accuracy), for the
    largest training size, in the layout of Frid-Adar et al. 2018, Tables I, II and V: rows
    are the classifier's calls, columns the ground truth, the last column each class's
    specificity and the last row each class's sensitivity; the matrix is summed over the
    test folds (and seeds). Empty when the results hold no confusion matrices.
    """
    n_classes = sum(1 for c in df.columns if str(c).startswith("recall_"))
    if n_classes == 0 or f"cm_{n_classes - 1}_{n_classes - 1}" not in df:
        return ""
    df = df[df[f"cm_{n_classes - 1}_{n_classes - 1}"].notna()]
    if df.empty:
        return ""
    names = list(classes) if len(classes) == n_classes else [str(c) for c in range(n_classes)]
    sizes = sorted(df["train_subjects"].unique())
    size = 0 if 0 in sizes else sizes[-1]
    df = df[df["train_subjects"] == size]
    pairs = df[["fold", "seed"]].drop_duplicates().shape[0]
    lines = [
        "Per-class sensitivity and specificity (layout of Frid-Adar et al. 2018, Tables I, II "
        f"and V): each arm at its best number of added {added}, {'all' if size == 0 else size} "
        f"training {groups}, confusion matrix summed over {pairs} test fold x seed pairs (the "
        "best count is picked on the test folds, as the paper picked its best groups).",
        "",
        "| arm | added / class | accuracy | mean sensitivity | mean specificity |",
        "|---|---|---|---|---|",
    ]
    details = []
    for arm in dict.fromkeys(df["arm"]):
        rows = df[df["arm"] == arm]
        acc = rows.groupby("n_added")["accuracy"].mean()
        best = acc.idxmax()
        chosen = rows[rows["n_added"] == best]
        cm = confusion_matrix_of(chosen, n_classes)
        sens, spec = sensitivity_specificity(cm)
        added = chosen["added_per_class"].mean() if "added_per_class" in chosen else best
        lines.append(
            f"| {arm} | {_fmt_added(added)} | {chosen['accuracy'].mean():.3f} ± "
            f"{chosen['accuracy'].std():.3f} | {np.nanmean(sens):.1%} | {np.nanmean(spec):.1%} |"
        )
        details += [
            "",
            f"**{arm}**, {_fmt_added(added)} added per class "
            f"(accuracy {np.trace(cm) / max(cm.sum(), 1):.1%} of {cm.sum()} test calls):",
            "",
            "| classification \\ truth | " + " | ".join(names) + " | specificity |",
            "|---|" + "---|" * (n_classes + 1),
        ]
        for j, name in enumerate(names):  # row j: samples the classifier called class j
            counts = " | ".join(str(int(cm[i, j])) for i in range(n_classes))
            details.append(f"| {name} | {counts} | {spec[j]:.1%} |")
        details.append("| sensitivity | " + " | ".join(f"{v:.1%}" for v in sens) + " | |")
    return "\n".join(lines + details)


# Arms that add no samples: others pair with them on fold, seed and size alone.
UNADDED_BASES = ("real", "none", "reference")


def default_base(df) -> str:
    """The arm the others are paired against: ``real`` (augmentation) or ``none``."""
    return "real" if "real" in set(df["arm"]) else "none"


def paired_differences(
    df, metric: str, base: str, arms: Sequence[str] | None = None
) -> dict[tuple[int, int, str], Any]:
    """Each arm's ``metric`` minus ``base``'s, per (training size, number added, arm), as a
    Series over the fold x seed pairs both have: paired on the same fold, seed and size, and
    against an arm that adds samples itself, also the same number added. Empty without
    ``base``."""
    if base not in set(df["arm"]):
        return {}
    keys = ["fold", "seed", "train_subjects"]
    if base not in UNADDED_BASES:
        keys.append("n_added")  # e.g. classical at the same number of added windows
    ref = df[df["arm"] == base].set_index(keys)[metric]
    rows = df[df["arm"] != base]
    if arms is not None:
        rows = rows[rows["arm"].isin(arms)]
    out = {}
    for (k, n, arm), g in rows.groupby(["train_subjects", "n_added", "arm"]):
        d = (g.set_index(keys)[metric] - ref).dropna()
        if not d.empty:
            out[(k, n, arm)] = d
    return out


def paired_table(
    df,
    metric: str,
    words: Wording | None = None,
    *,
    base: str | None = None,
    arms: Sequence[str] | None = None,
) -> str:
    """Paired differences against ``base`` (default ``real`` or ``none``) on the same fold,
    seed and size; against an arm that adds windows itself, also the same number added
    (:func:`paired_differences`)."""
    words = words or Wording.of(None)
    base = base or default_base(df)
    if base not in set(df["arm"]):
        return ""
    diffs = paired_differences(df, metric, base, arms)
    lines = [
        f"Paired difference in {metric} against `{base}` (same fold, seed, size"
        + (" and number added" if base not in UNADDED_BASES else "")
        + "):",
        "",
        f"| {words.size_column} | added / class | arm | mean diff | sd | 95 % CI | wins/n |",
        "|---|---|---|---|---|---|---|",
    ]
    for (k, n, arm), d in diffs.items():
        lo, hi = mean_interval(d.to_numpy())
        ci = f"{lo:+.3f} to {hi:+.3f}" if len(d) > 1 else "n/a"
        lines.append(
            f"| {k or 'all'} | {n} | {arm} | {d.mean():+.3f} | {d.std():.3f} | {ci} | "
            f"{int((d > 0).sum())}/{len(d)} |"
        )
    shared = (
        f" The pairs of one fold share its test {words.groups}, so they are not independent "
        "and the true interval is wider."
        if df.groupby("fold")["seed"].nunique().max() > 1
        else ""
    )
    lines += [
        "",
        "95 % CI: Student's t interval of the mean difference over the fold x seed pairs."
        + shared
        + " An interval that holds 0 does not tell the arms apart.",
    ]
    return "\n".join(lines)


def paired_class_table(
    df,
    base: str,
    arms: Sequence[str] | None = None,
    classes: Sequence[str] = (),
    words: Wording | None = None,
) -> str:
    """Per class, the paired difference in recall against ``base`` (mean over the fold x
    seed pairs and wins/n), on the pairing of :func:`paired_differences`: where an arm wins
    and where it loses. Empty without per-class recalls or ``base``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"fold": [0, 0, 1, 1], "seed": 0, "train_subjects": 4,
    ...                    "n_added": 0, "arm": ["smote", "cgan", "smote", "cgan"],
    ...                    "recall_0": [0.5, 0.7, 0.6, 0.7], "recall_1": [0.9, 0.8, 0.9, 0.9]})
    >>> print(paired_class_table(df, "smote", classes=["IR", "ER"]).splitlines()[-1])
    | 4 | 0 | cgan | +0.150 (2/2) | -0.050 (0/2) |
    """
    n_classes = sum(1 for c in df.columns if str(c).startswith("recall_"))
    if not n_classes or base not in set(df["arm"]):
        return ""
    words = words or Wording.of(None)
    names = list(classes) if len(classes) == n_classes else [str(c) for c in range(n_classes)]
    per_class = [paired_differences(df, f"recall_{c}", base, arms) for c in range(n_classes)]
    lines = [
        f"Per-class recall, paired difference against `{base}`: mean over the fold x seed "
        "pairs (wins/n).",
        "",
        f"| {words.size_column} | added / class | arm | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * n_classes,
    ]
    for key in per_class[0]:
        k, n, arm = key
        cells = []
        for diffs in per_class:
            d = diffs.get(key)
            cells.append("n/a" if d is None else f"{d.mean():+.3f} ({int((d > 0).sum())}/{len(d)})")
        lines.append(f"| {k or 'all'} | {n} | {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

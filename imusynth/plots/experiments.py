"""Figures of experiment results: accuracy versus added samples, rebalancing bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_experiment"]


def plot_experiment(
    df, out_dir: str | Path, *, groups: str = "subjects", added: str = "samples"
) -> list[Path]:
    """Write the experiment's figures into ``out_dir`` and return their paths.

    Augmentation results get ``accuracy_vs_added.png`` (the analogue of Frid-Adar et al.
    2018, Fig. 8: one panel per training size, one line per arm, mean ± sd over folds and
    seeds, against all samples added per class -- for classic + synthetic arms on top of a
    classic base, base plus synthetic); rebalancing results get ``rebalancing.png`` (bars of
    macro-F1, balanced accuracy and minority recall per arm). ``groups`` names the units of
    the group-wise CV in the labels ("subjects", or "patients" for lesion ROIs), ``added``
    what is added per class ("samples", or "images" for lesion ROIs); see
    :class:`imusynth.runner.Wording`.
    """
    out = Path(out_dir)
    if "reference" in set(df["arm"]) or "none" in set(df["arm"]):
        return [_bars(df, out / "rebalancing.png", groups)]
    return [_curves(df, out / "accuracy_vs_added.png", groups, added)]


def _curves(df, path: Path, groups: str, added: str) -> Path:
    sizes = sorted(df["train_subjects"].unique())
    fig = Figure(figsize=(4.5 * len(sizes), 4.0), layout="constrained")
    axes = fig.subplots(1, len(sizes), squeeze=False)[0]
    for ax, k in zip(axes, sizes, strict=True):
        sub = df[df["train_subjects"] == k]
        real = sub[sub["arm"] == "real"]["accuracy"]
        x_col = "added_per_class" if "added_per_class" in sub else "n_added"
        if len(real):
            ax.axhline(real.mean(), color="k", lw=1.5, label="real only")
            ax.axhspan(real.mean() - real.std(), real.mean() + real.std(), color="k", alpha=0.08)
        for arm, g in sub[sub["arm"] != "real"].groupby("arm"):
            stats = g.groupby(x_col)["accuracy"].agg(["mean", "std"]).sort_index().dropna()
            ax.errorbar(
                stats.index,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=3,
                label=arm,
            )
        ax.set_title(f"{k or 'all'} training {groups} per fold")
        ax.set_xlabel(f"added {added} per class")
        ax.set_ylabel(f"accuracy on held-out {groups}")
        ax.grid(alpha=0.3)
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.savefig(path, dpi=120)
    return path


def _bars(df, path: Path, groups: str) -> Path:
    metrics = [m for m in ("macro_f1", "balanced_accuracy", "minority_recall") if m in df]
    arms = list(dict.fromkeys(df["arm"]))
    fig = Figure(figsize=(1.2 * len(arms) + 3, 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(metrics)
    x = np.arange(len(arms))
    for i, m in enumerate(metrics):
        stats = df.groupby("arm")[m].agg(["mean", "std"]).reindex(arms)
        ax.bar(
            x + i * width,
            stats["mean"],
            width,
            yerr=stats["std"].fillna(0),
            capsize=2,
            label=m.replace("_", " "),
        )
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, arms, rotation=25, ha="right")
    ax.set_ylim(0, 1.12)  # headroom: the legend sits above the bars, not on them
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel(f"score on held-out {groups}")
    ax.legend(fontsize=8, loc="upper center", ncol=len(metrics), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=120)
    return path

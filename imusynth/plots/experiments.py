"""Figures of experiment results: accuracy versus added samples, rebalancing bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from imusynth.metrics.classification import mean_interval
from imusynth.plots._text import escape

__all__ = ["caption", "plot_experiment", "plot_paired"]


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
    :class:`imusynth.experiments.Wording`.
    """
    out = Path(out_dir)
    if "reference" in set(df["arm"]) or "none" in set(df["arm"]):
        path, fig = out / "rebalancing.png", _bars(df, groups)
    else:
        path, fig = out / "accuracy_vs_added.png", _curves(df, groups, added)
    # "tight" keeps a wide legend inside the saved image.
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return [path]


def plot_paired(
    panels: dict[str, dict[str, np.ndarray]], metric: str, path: str | Path, *, title: str = ""
) -> Path:
    """One panel per baseline: each arm's paired differences in ``metric`` against it (a dot
    per fold x seed pair), their mean and its 95 % Student's t interval; a line at 0.

    ``panels`` maps a baseline's name to ``{arm label: differences}``. What a table's mean
    and sd hide shows here: how many units an arm wins, and by how much it loses the rest.

    Examples
    --------
    >>> import tempfile
    >>> d = {"none": {"smote": np.array([0.1, 0.2, 0.05]), "cgan": np.array([0.2, -0.1, 0.3])}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plot_paired(d, "macro_f1", Path(tmp) / "p.png").stat().st_size > 5000
    True
    """
    panels = {b: arms for b, arms in panels.items() if arms}
    widths = [max(2.0, 0.75 * len(arms) + 1.0) for arms in panels.values()]
    fig = Figure(figsize=(sum(widths) + 0.6, 3.9), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=widths)[0]
    rng = np.random.default_rng(0)  # sideways jitter of the dots only
    for ax, (base, arms) in zip(axes, panels.items(), strict=True):
        for x, d in enumerate(arms.values()):
            d = np.asarray(d, dtype=float)
            ax.scatter(
                x + rng.uniform(-0.12, 0.12, len(d)), d, s=14, color="tab:blue", alpha=0.6, lw=0
            )
            yerr = None
            if len(d) > 1:
                lo, hi = mean_interval(d)
                yerr = [[d.mean() - lo], [hi - d.mean()]]
            ax.errorbar(x + 0.25, d.mean(), yerr=yerr, fmt="D", color="black", ms=5, capsize=3)
            wins = int((d > 0).sum())
            ax.annotate(f"{wins}/{len(d)}", (x, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=8)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(arms)), [escape(a) for a in arms], rotation=25, ha="right")
        ax.set_xlim(-0.6, len(arms) - 0.4)
        ax.set_title(f"minus {escape(base)}", fontsize=9, pad=14)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel(f"paired difference in {metric.replace('_', ' ')}")
    fig.suptitle(
        escape(title) + "\ndots: fold x seed pairs (wins/n above); diamonds: mean, 95 % t interval",
        fontsize=9,
    )
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _curves(df, groups: str, added: str) -> Figure:
    sizes = sorted(df["train_subjects"].unique())
    x_col = "added_per_class" if "added_per_class" in df else "n_added"
    arms = [a for a in dict.fromkeys(df["arm"]) if a != "real"]
    fig = Figure(figsize=(max(4.5 * len(sizes), 6.0), 4.6), layout="constrained")
    axes = fig.subplots(1, len(sizes), squeeze=False)[0]
    for ax, k in zip(axes, sizes, strict=True):
        sub = df[df["train_subjects"] == k]
        real = sub[sub["arm"] == "real"]["accuracy"]
        if len(real):
            ax.axhline(real.mean(), color="k", lw=1.5, label="real only (band: ± sd)")
            ax.axhspan(real.mean() - real.std(), real.mean() + real.std(), color="k", alpha=0.08)
        stats = {
            arm: sub[sub["arm"] == arm]
            .groupby(x_col)["accuracy"]
            .agg(["mean", "std"])
            .sort_index()
            .dropna(subset=["mean"])
            for arm in arms
        }
        shifts = _dodge({arm: st.index.to_numpy(float) for arm, st in stats.items()})
        for i, arm in enumerate(arms):
            st = stats[arm]
            if st.empty:
                continue
            ax.errorbar(
                st.index.to_numpy(float) + shifts[arm],
                st["mean"],
                yerr=st["std"].fillna(0),
                marker="o",
                capsize=3,
                color=f"C{i % 10}",
                label=escape(arm),
            )
        ax.set_title(f"{k or 'all'} training {groups} per fold")
        ax.set_xlabel(f"added {added} per class")
        ax.set_ylabel(f"accuracy on held-out {groups}")
        ax.grid(alpha=0.3)
    # Every arm, also one missing from the last panel, gets a legend entry.
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    ncol = max(1, min(len(entries), int(max(4.5 * len(sizes), 6.0) // 2.2)))
    fig.legend(
        list(entries.values()),
        list(entries.keys()),
        loc="outside lower center",
        ncol=ncol,
        fontsize=8,
    )
    title = caption(df, "points: mean ± sd", "arms at the same x drawn slightly apart")
    fig.suptitle(title, fontsize=10)
    return fig


def _bars(df, groups: str) -> Figure:
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
    ax.set_xticks(
        x + width * (len(metrics) - 1) / 2, [escape(a) for a in arms], rotation=25, ha="right"
    )
    ax.set_ylim(0, 1.12)  # headroom: the legend sits above the bars, not on them
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel(f"score on held-out {groups}")
    ax.legend(fontsize=8, loc="upper center", ncol=len(metrics), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(caption(df, "bars: mean, whiskers: ± sd"), fontsize=10)
    return fig


def _dodge(xs: dict[str, np.ndarray], share: float = 0.02) -> dict[str, np.ndarray]:
    """Sideways shifts for points of several arms measured at the same x.

    Arms measured at the same number added would hide each other's points and error bars;
    where ``k`` arms share an x they are spread ``share`` of the x range apart, centred on
    it (the caption says so); a point no other arm shares stays where it is.

    Examples
    --------
    >>> s = _dodge({"a": np.array([0.0, 100.0]), "b": np.array([100.0])})
    >>> s["a"].tolist(), s["b"].tolist()
    ([0.0, -1.0], [1.0])
    """
    every = np.concatenate([v for v in xs.values()] or [np.zeros(0)])
    span = float(every.max() - every.min()) if len(every) else 0.0
    step = share * (span or 1.0)
    # Numbers added are means over folds; equal to 6 decimals counts as the same x.
    keys = {arm: np.round(v, 6) for arm, v in xs.items()}
    shifts = {}
    for arm, key in keys.items():
        out = np.zeros(len(key))
        for j, x in enumerate(key):
            sharing = [a for a, other in keys.items() if np.any(other == x)]
            out[j] = (sharing.index(arm) - (len(sharing) - 1) / 2) * step
        shifts[arm] = out
    return shifts


def caption(df, what: str, note: str = "") -> str:
    """A figure's title for the rows ``df`` of a results table: the experiment's name (first
    line), then ``what`` its marks mean, over how many fold x seed pairs, then ``note`` and,
    where a cell averages several classifiers, how many."""
    name = escape(df["experiment"].iloc[0]) if "experiment" in df and len(df) else ""
    pairs = df[["fold", "seed"]].drop_duplicates().shape[0] if {"fold", "seed"} <= set(df) else 0
    over = f" over {pairs} fold x seed pairs" if pairs else " over folds and seeds"
    if "classifier_seeds" in df and df["classifier_seeds"].max() > 1:
        note = ", ".join(
            n
            for n in (note, f"each the mean of {int(df['classifier_seeds'].max())} classifiers")
            if n
        )
    return "\n".join(line for line in (name, what + over + (f"; {note}" if note else "")) if line)

"""What an evaluation writes and prints: every score beside its reference, the report folder.

:func:`summary_rows` turns an :func:`~imusynth.evaluation.evaluate.evaluate` result into
``(score, value, read against)`` rows (what ``imusynth evaluate`` prints and ``report.md``
holds); :func:`write_report` writes ``metrics.json``, ``report.md``, ``giveaway.csv`` and the
figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imusynth.data import WindowSet
from imusynth.data.store import atomic_path
from imusynth.metrics.giveaway import log_psd_comparison
from imusynth.models.kinematic import RESIDUAL_SHARE_BOUND

__all__ = ["COVERAGE_AXES", "GIVEAWAY_FEATURES", "summary_rows", "write_report"]

GIVEAWAY_FEATURES = 10  # rows of the giveaway table in report.md
COVERAGE_AXES = 2  # principal axes of the embedding that precision/recall/coverage use


def summary_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Each headline score of an :func:`evaluate` report beside what to read it against.

    Returns ``(name, value, reference)`` rows of text; no score without its reference.

    Examples
    --------
    >>> m = {"discriminative_score": 0.49, "discriminative_score_sd": 0.01,
    ...      "discriminative_score_floor": 0.08, "discriminative_score_floor_sd": 0.04}
    >>> summary_rows(m)[0]  # doctest: +NORMALIZE_WHITESPACE
    ('discriminative score (subject-held-out)', '0.49 ± 0.01',
     'real vs real floor 0.08 ± 0.04; 0 = indistinguishable, 0.5 = always told apart')
    """
    m = metrics
    rows = []
    floor = m.get("discriminative_score_floor")
    floor_text = (
        "real vs real floor n/a (needs 4 training subjects)"
        if floor is None
        else f"real vs real floor {_pm(floor, m.get('discriminative_score_floor_sd'))}"
    )
    rows.append(
        (
            "discriminative score (subject-held-out)",
            _pm(m.get("discriminative_score"), m.get("discriminative_score_sd")),
            f"{floor_text}; 0 = indistinguishable, 0.5 = always told apart",
        )
    )
    gru = m.get("timegan_discriminative_score") is not None
    gru_ref = _num(m.get("timegan_discriminative_score_reference"))
    rows.append(
        (
            "discriminative score (TimeGAN GRU)",
            _num(m.get("timegan_discriminative_score")) if gru else "skipped",
            (
                f"real vs real of other subjects {gru_ref}"
                "; split by window as published: TimeGAN 0.10 stocks - 0.24 energy, HAR GANs "
                "0.45-0.50"
            )
            if gru
            else "TimeGAN's post-hoc GRU judges were not run",
        )
    )
    if gru:
        rows.append(
            (
                "predictive score (TimeGAN GRU, MAE)",
                _num(m.get("timegan_predictive_score")),
                f"trained on real windows of other subjects "
                f"{_num(m.get('timegan_predictive_score_reference'))}; lower is better",
            )
        )
    if m.get("discriminative_score_random_split") is not None:
        ref = _num(m.get("discriminative_score_random_split_reference"))
        rows.append(
            (
                "discriminative score (random split)",
                _num(m["discriminative_score_random_split"]),
                f"real test vs real train {ref}; splits subjects' windows, so it also "
                "recognises subjects",
            )
        )
    trtr = _num(m.get("trtr_accuracy"))
    for key, name in (("tstr", "TSTR accuracy"), ("trts", "TRTS accuracy")):
        if key + "_accuracy" in m:
            rows.append((name, _num(m[key + "_accuracy"]), f"TRTR {trtr} (real train, real test)"))
    for key, name in (
        ("embedded_frechet_distance", "Fréchet distance (window features)"),
        ("embedded_mmd", "MMD (window features)"),
        ("precision", f"precision (k-NN, {COVERAGE_AXES} principal axes)"),
        ("recall", f"recall (k-NN, {COVERAGE_AXES} principal axes)"),
        ("density", f"density (k-NN, {COVERAGE_AXES} principal axes)"),
        ("coverage", f"coverage (k-NN, {COVERAGE_AXES} principal axes)"),
        ("frechet_distance", "Fréchet distance (classifier features)"),
        ("mmd", "MMD (normalised raw windows)"),
        ("psd_distance", "PSD distance (dB)"),
    ):
        if m.get(key) is not None:
            ref = _num(m.get(key + "_reference"))
            rows.append((name, _num(m[key]), f"real test vs real train {ref}"))
    share = m.get("residual_share")
    if share:
        rows.append(
            (
                "residual share (kinematic generator)",
                ", ".join(f"{k} {v:.2f}" for k, v in share.items()),
                f"bound {RESIDUAL_SHARE_BOUND:.2f}: above it the residual branch, not the arm "
                "model, makes the windows (the kinematic constraint is bypassed)",
            )
        )
    return rows


def _pm(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.2f}" if sd is None else f"{mean:.2f} ± {sd:.2f}"


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) >= 10 else f"{value:.2f}"


def write_report(
    out: Path,
    metrics: dict[str, Any],
    reports: dict[str, dict[str, Any]],
    train: WindowSet,
    synthetic: WindowSet,
    z_train: np.ndarray,
    z_syn: np.ndarray,
    giveaway: pd.DataFrame | None = None,
) -> list[str]:
    from imusynth.plots.eval import (
        plot_class_overlays,
        plot_confusion_matrices,
        plot_embedding,
        plot_psd,
    )

    out.mkdir(parents=True, exist_ok=True)
    names = list(train.classes)
    figures = {
        "confusion.png": plot_confusion_matrices(
            {k.upper(): np.asarray(reports[k]["confusion_matrix"]) for k in reports}, names
        ),
        "embedding.png": plot_embedding(z_train, train.y, z_syn, synthetic.y, names),
    }
    if train.X.ndim == 3:
        args = (train.X, train.y, synthetic.X, synthetic.y, names, list(train.channels))
        kw = {"fs": train.sampling_rate_hz, "units": list(train.units)}
        figures["overlays.png"] = plot_class_overlays(*args, **kw)
        figures["psd.png"] = plot_psd(*args, **kw)
        from imusynth.plots.giveaway import plot_giveaway_features, plot_log_psd

        psd = log_psd_comparison(train.X, synthetic.X, train.channels, train.sampling_rate_hz)
        figures["log_psd.png"] = plot_log_psd(psd, list(train.units))
        if giveaway is not None and len(giveaway):
            figures["giveaway.png"] = plot_giveaway_features(train.X, synthetic.X, giveaway)
    if giveaway is not None:
        with atomic_path(out / "giveaway.csv") as tmp:
            giveaway.to_csv(tmp, index=False)
    written = []
    for name, fig in figures.items():
        with atomic_path(out / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        written.append(name)
    metrics["figures"] = sorted(written)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    lines = ["# Evaluation of a synthetic window set", "", "| score | value | read against |"]
    lines.append("|---|---|---|")
    lines += [f"| {name} | {value} | {ref} |" for name, value, ref in summary_rows(metrics)]
    cfg = metrics["config"]
    lines += [
        "",
        f"Real training subjects {', '.join(cfg['train_subjects'])}; test subjects "
        f"{', '.join(cfg['test_subjects'])}; {cfg['n_synthetic']} synthetic windows. Full "
        "numbers, per class and per judge repetition, in metrics.json.",
        "",
    ]
    if metrics.get("giveaway"):
        lines += [
            "## What gives the synthetic windows away",
            "",
            "Single window features, best separating first (AUC of synthetic vs real training "
            "windows; 0.5 = no help to a judge); real_vs_real_auc is the same feature between "
            "two halves of the real subjects. All of them in giveaway.csv.",
            "",
            "| feature | AUC | real median [10-90 %] | synthetic median [10-90 %] |",
            "|---|---|---|---|",
        ]
        lines += [_giveaway_row(row) for row in metrics["giveaway"][:GIVEAWAY_FEATURES]]
        lines.append("")
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return sorted(written)


def _giveaway_row(row: Mapping[str, Any]) -> str:
    def spread(side: str) -> str:
        return f"{row[side + '_median']:.3g} [{row[side + '_p10']:.3g}, {row[side + '_p90']:.3g}]"

    return f"| {row['feature']} | {row['auc']:.2f} | {spread('real')} | {spread('synthetic')} |"

"""Every figure the package draws: it is written as a PNG even when class, channel, arm and
title texts hold matplotlib's special characters, and it tells a reader what it shows (axis
labels with units, legends, shared scales)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from imusynth.kinematics import ArmModel
from imusynth.plots._text import escape
from imusynth.plots.arm import plot_arm_motion
from imusynth.plots.eval import (
    plot_class_overlays,
    plot_confusion_matrices,
    plot_embedding,
    plot_psd,
)
from imusynth.plots.experiments import _bars, _curves, _dodge, plot_experiment
from imusynth.plots.gan import plot_real_vs_synthetic
from imusynth.plots.images import plot_image_rows, plot_real_vs_synthetic_images

# "$\foo$" is mathtext with an unknown symbol: drawn unescaped it raises ValueError.
CLASSES = ["$\\foo$", "_x_", "50%", "épaule αβ"]
CHANNELS = ["$\\nope$x", "ay_1", "az%", "wx", "wyµ", "wz"]
UNITS = ["g"] * 3 + ["rad/s"] * 3
FS = 25.0
PNG = b"\x89PNG\r\n\x1a\n"


def _windows(seed: int, n_per_class: int = 3, t: int = 40):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    X = rng.normal(size=(len(y), len(CHANNELS), t)).astype(np.float32)  # (N, C, T)
    return X, y


def _save(fig, tmp_path, name: str = "fig.png"):
    path = tmp_path / name
    fig.savefig(path, dpi=40)  # drawing is where unescaped mathtext fails
    assert path.read_bytes()[:8] == PNG
    return path


def test_escape_prints_dollars_literally():
    from matplotlib.figure import Figure

    fig = Figure()
    text = fig.text(0, 0, escape("$\\foo$"))
    fig.canvas.draw()
    assert text.get_text() == "\\$\\foo\\$"
    assert escape("50%_x_") == "50%_x_"


def test_real_vs_synthetic_shares_y_per_unit_and_explains_line_styles(tmp_path):
    real, y = _windows(0)
    fake, y_fake = _windows(1)
    fake *= 10.0  # a much wider synthetic range must not get its own scale
    path = tmp_path / "rvs.png"
    fig = plot_real_vs_synthetic(
        real, y, fake, y_fake, CLASSES, CHANNELS, UNITS, n_per_class=2, path=path, title="$t$"
    )
    assert path.read_bytes()[:8] == PNG
    axes = np.array(fig.axes).reshape(len(CLASSES), 4)  # real g, real rad/s, synth g, synth rad/s
    for row in axes:
        for g in range(2):
            assert row[g].get_ylim() == pytest.approx(row[2 + g].get_ylim())
            lo, hi = row[g].get_ylim()
            assert hi - lo > 10.0  # covers the synthetic range, not only the real one
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert [escape(c) for c in CHANNELS] == labels[: len(CHANNELS)]
    assert "first window of a class" in labels and "further windows" in labels
    assert [ax.get_ylabel() for ax in axes[:, 0]] == [escape(c) for c in CLASSES]
    assert all("[" in ax.get_title() for ax in axes[0])  # unit in each column's title


@pytest.mark.parametrize("plot", [plot_class_overlays, plot_psd])
def test_overlays_and_psd_label_every_axis_with_its_unit(plot, tmp_path):
    real, y = _windows(0)
    fake, y_fake = _windows(1)
    fig = plot(real, y, fake, y_fake, CLASSES, CHANNELS, fs=FS, units=UNITS)
    _save(fig, tmp_path)
    axes = np.array(fig.axes).reshape(len(CLASSES), len(CHANNELS))
    for row in axes:
        for c, ax in enumerate(row):
            assert UNITS[c] in ax.get_ylabel()
    assert all(escape(c) in ax.get_ylabel() for c, ax in zip(CLASSES, axes[:, 0], strict=True))
    assert all("[Hz]" in ax.get_xlabel() or "[s]" in ax.get_xlabel() for ax in axes[-1])
    assert fig.legends


def test_psd_without_units_still_has_a_y_label(tmp_path):
    real, y = _windows(0)
    fig = plot_psd(real[:, :2], y, real[:, :2], y, CLASSES, CHANNELS[:2], fs=FS)
    _save(fig, tmp_path)
    assert all("PSD [1/Hz]" in ax.get_ylabel() for ax in fig.axes)


def test_embedding_and_confusion_draw_special_names(tmp_path):
    real, y = _windows(0)
    fake, y_fake = _windows(1)
    fig = plot_embedding(real, y, fake, y_fake, CLASSES)
    _save(fig, tmp_path, "embedding.png")
    assert len(fig.legends[0].get_texts()) == 2 * len(CLASSES)
    cm = np.arange(len(CLASSES) ** 2).reshape(len(CLASSES), -1)
    fig = plot_confusion_matrices({"TRTR": cm, "$T$STR": cm.T}, CLASSES)
    _save(fig, tmp_path, "confusion.png")
    colorbar = fig.axes[-1]
    assert "share" in colorbar.get_ylabel()


def test_image_rows_draw_special_names(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(8, 1, 8, 8)).astype(np.float32)  # (N, 1, H, W)
    y = np.repeat(np.arange(len(CLASSES)), 2)
    fig = plot_image_rows({"real": (X, y), "$G$AN_1": (X, y)}, CLASSES, n_per_class=2)
    _save(fig, tmp_path, "rows.png")
    assert fig.axes[0].get_ylabel() == f"{escape(CLASSES[0])}\nreal"
    _save(plot_real_vs_synthetic_images(X, y, X, y, CLASSES, n_per_class=2), tmp_path)


def test_arm_motion_draws_special_title(tmp_path):
    out = ArmModel()(torch.zeros(1, 7, 30), fs=FS)
    observed = np.zeros((6, 30))
    fig = plot_arm_motion(out, FS, observed=observed, n_poses=2, title=CLASSES[0])
    _save(fig, tmp_path)
    assert "dashed" in fig.axes[0].get_title() and "vertical lines" in fig.axes[0].get_title()


def _results(arms, sizes=(0,), added=(100, 200)):
    rows = []
    for k in sizes:
        for fold in range(2):
            rows.append(dict(train_subjects=k, fold=fold, seed=0, n_added=0, arm="real"))
            for arm in arms:
                for n in added:
                    rows.append(dict(train_subjects=k, fold=fold, seed=0, n_added=n, arm=arm))
    df = pd.DataFrame(rows)
    df["experiment"] = "$e$_1"
    df["added_per_class"] = df["n_added"].astype(float)
    df["accuracy"] = np.linspace(0.4, 0.9, len(df))
    return df


def test_accuracy_curves_list_every_arm_and_keep_points_apart(tmp_path):
    arms = ["classical", "classical+cgan:$d$", "cgan_x_ 5%"]
    df = _results(arms, sizes=(0, 2))
    df = df[~((df["train_subjects"] == 2) & (df["arm"] == arms[0]))]  # missing from last panel
    (path,) = plot_experiment(df, tmp_path, groups="patients", added="images")
    assert path.name == "accuracy_vs_added.png" and path.read_bytes()[:8] == PNG
    fig = _curves(df, "patients", "images")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert set(labels) == {escape(a) for a in arms} | {"real only (band: ± sd)"}
    assert all(ax.get_ylabel() and ax.get_xlabel() for ax in fig.axes)
    for ax in fig.axes:  # two arms at one x draw their points at two x positions
        xs = [x for bars in ax.containers for x in bars.lines[0].get_xdata()]
        assert len(xs) > len(set(df["n_added"])) - 1
        assert len(set(np.round(xs, 9))) == len(xs)


def test_dodge_moves_only_shared_points():
    shifts = _dodge({"a": np.array([0.0, 100.0]), "b": np.array([100.0, 200.0])})
    assert shifts["a"][0] == 0.0 and shifts["b"][1] == 0.0  # alone at their x
    assert shifts["a"][1] < 0 < shifts["b"][0]  # shared x=100: spread apart, centred
    assert shifts["a"][1] == pytest.approx(-shifts["b"][0])


def test_rebalancing_bars_draw_special_arm_names(tmp_path):
    df = _results(["none", "$\\foo$", "smote_x_"])
    df.loc[df["arm"] == "real", "arm"] = "reference"
    for m in ("macro_f1", "balanced_accuracy", "minority_recall"):
        df[m] = df["accuracy"]
    (path,) = plot_experiment(df, tmp_path)
    assert path.name == "rebalancing.png" and path.read_bytes()[:8] == PNG
    ax = _bars(df, "subjects").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        escape(a) for a in dict.fromkeys(df["arm"])
    ]
    assert ax.get_ylabel() == "score on held-out subjects" and ax.get_legend()


def test_training_draws_its_final_figure_with_special_names(tmp_path, tiny_windows):
    """The figure drawn after the last checkpoint used to fail on a class named like mathtext."""
    import dataclasses

    from imusynth.gan import train_run
    from imusynth.train.config import load_config

    ws = dataclasses.replace(
        tiny_windows, classes=("$\\foo$", "_x_"), channels=tuple(CHANNELS), units=tuple(UNITS)
    )
    cfg = load_config(
        None,
        [
            "model.g_width=16",
            "model.g_blocks=2",
            "model.d_width=8",
            "model.d_blocks=2",
            "model.latent_dim=8",
            "model.embed_dim=8",
            "train.steps=1",
            "train.batch_size=8",
        ],
    )
    train_run(cfg, ws, tmp_path / "run", device="cpu")
    assert (tmp_path / "run" / "real_vs_synthetic.png").read_bytes()[:8] == PNG


def test_turing_sheet_draws_windows_with_special_channel_names(tmp_path, tiny_windows):
    import dataclasses

    from imusynth.evaluation.turing import make_sheet

    real = dataclasses.replace(
        tiny_windows,
        channels=tuple(CHANNELS),
        units=("$\\foo$",) * 3 + ("rad/s",) * 3,
    )
    fake = dataclasses.replace(real, X=real.X[::-1].copy(), is_synthetic=np.ones(24, bool))
    page = make_sheet(real, fake, 2, tmp_path / "sheet", seed=0).read_text()
    assert page.count('class="plot"') == 2


def test_the_training_callback_moved_to_the_trainer():
    import imusynth.plots.gan as plots_gan
    from imusynth.train.callbacks import SamplePlotCallback

    with pytest.warns(DeprecationWarning, match="imusynth.train.callbacks"):
        make = plots_gan.SamplePlotCallback
    assert make.func is SamplePlotCallback
    assert make.keywords == {"draw": plots_gan.plot_real_vs_synthetic}

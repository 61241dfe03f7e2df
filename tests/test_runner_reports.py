"""What the runner writes beside its results: wording per modality, portable config.json."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from imusynth.experiments import load_experiment, load_saved_config, run_experiment, summarise

from .conftest import ROOT
from .test_runner import _windows


def _results(folder: Path, modality: str) -> Path:
    """A hand-made results.csv of 2 folds x 2 arms, 3 classes, and its data.json."""
    rows = []
    for fold in (0, 1):
        for arm, n_added, right in (("real", 0, 4), ("classical", 4, 5)):
            cm = np.full((3, 3), 1) + np.eye(3, dtype=int) * (right - 1)
            row = {"experiment": "e", "fold": fold, "seed": 0, "train_subjects": 0}
            row |= {"n_added": n_added, "arm": arm, "added_per_class": float(n_added)}
            row |= {"accuracy": np.trace(cm) / cm.sum(), "balanced_accuracy": 0.5}
            row |= {"macro_f1": 0.5 + 0.1 * fold, "minority_recall": np.nan}
            row |= {f"recall_{c}": 0.5 for c in range(3)}
            row |= {f"cm_{i}_{j}": int(cm[i, j]) for i in range(3) for j in range(3)}
            rows.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    info = {"classes": ["a", "b", "c"], "modality": modality}
    (folder / "data.json").write_text(json.dumps(info))
    return folder / "results.csv"


@pytest.fixture
def figure_text(monkeypatch):
    """Every title and axis label of the figures saved while the test runs."""
    seen: list[str] = []
    original = Figure.savefig

    def spy(self, *args, **kwargs):
        for ax in self.axes:
            seen.extend([ax.get_title(), ax.get_xlabel(), ax.get_ylabel()])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return seen


def test_image_summaries_say_patients_and_images(tmp_path, figure_text):
    out = tmp_path / "ct"
    text = summarise(_results(out, "image"), out).read_text()
    assert "| training patients | added / class |" in text
    assert "patient-wise CV" in text and "all training patients" in text
    assert "best number of added images" in text
    assert "subject" not in text and "window" not in text and "sample" not in text
    labels = " ".join(figure_text)
    assert "added images per class" in labels and "held-out patients" in labels
    assert "subject" not in labels and "sample" not in labels


def test_imu_summaries_keep_subjects_and_windows(tmp_path, figure_text):
    out = tmp_path / "watch"
    text = summarise(_results(out, "windows"), out).read_text()
    assert text.count("| train subjects | added / class |") == 2  # results and paired tables
    assert "subject-wise CV" in text and "all training subjects" in text
    assert "patient" not in text and "image" not in text
    labels = " ".join(figure_text)
    assert "added samples per class" in labels and "held-out subjects" in labels
    assert "patient" not in labels
    # the wording can be forced where data.json is missing
    (out / "data.json").unlink()
    assert "training patients" in summarise(out / "results.csv", out, modality="image").read_text()


def _project(root: Path) -> Path:
    """An experiment config, its GAN config and data file under ``root``."""
    root.mkdir()
    (root / "gan.toml").write_text("[train]\nsteps = 1\n")
    (root / "windows.h5").write_bytes(b"")  # never read: the test passes the windows in
    text = """
name = "t"
kind = "augmentation"
data = "windows.h5"
[cv]
n_splits = 2
[grid]
arms = ["real"]
[classifier]
arch = "frid_adar"
epochs = 1
val_fraction = 0.0
[gan]
config = "gan.toml"
"""
    (root / "exp.toml").write_text(text)
    return root / "exp.toml"


def test_config_json_holds_paths_relative_to_the_results_folder(tmp_path):
    cfg = load_experiment(_project(tmp_path / "proj"))
    out = tmp_path / "proj" / "results" / "t"
    run_experiment(cfg, out, windows=_windows(per_class=2))
    text = (out / "config.json").read_text()
    saved = json.loads(text)
    assert str(tmp_path) not in text
    assert saved["data"] == "../../windows.h5" and saved["gan_config"] == "../../gan.toml"
    assert saved["path"] == "../../exp.toml"
    # loading gives the absolute paths back, wherever the project has moved to
    expected = dataclasses.replace(cfg, path=str(Path(cfg.path).resolve()))
    assert load_saved_config(out) == expected
    shutil.copytree(tmp_path / "proj", tmp_path / "moved")
    moved = load_saved_config(tmp_path / "moved" / "results" / "t")
    assert moved.data == str((tmp_path / "moved" / "windows.h5").resolve())
    assert Path(moved.gan_config).is_file() and Path(moved.path).is_file()
    assert moved.arms == ("real",) and moved.seeds == (0,)
    # an older config.json with absolute paths still loads as written
    saved["data"] = "/elsewhere/windows.h5"
    (out / "config.json").write_text(json.dumps(saved))
    assert load_saved_config(out).data == "/elsewhere/windows.h5"


def test_committed_results_name_no_absolute_paths():
    folder = ROOT / "experiments" / "results" / "ct_augmentation"
    assert "/work/" not in (folder / "config.json").read_text()
    cfg = load_saved_config(folder)
    # A record of the run: the paths the files had then (relative to the folder), absolute.
    assert Path(cfg.data) == ROOT / "data_specs" / "liver_phantoms.toml"
    assert Path(cfg.gan_config) == ROOT / "experiments" / "ct_dcgan.toml"
    assert Path(cfg.path).is_file()


def test_paired_table_against_a_rival_matches_fold_seed_size_and_number_added():
    import pandas as pd

    from imusynth.experiments.report import paired_table

    rows = []
    for fold in range(3):
        for n in (50, 150):
            rows.append(
                dict(
                    fold=fold,
                    seed=0,
                    train_subjects=2,
                    n_added=n,
                    arm="classical",
                    macro_f1=0.5 + 0.1 * fold + (0.05 if n == 150 else 0.0),
                )
            )
            gain = 0.02 if n == 50 else -0.01
            rows.append(
                dict(
                    fold=fold,
                    seed=0,
                    train_subjects=2,
                    n_added=n,
                    arm="cgan:kinematic",
                    macro_f1=rows[-1]["macro_f1"] + gain,
                )
            )
        rows.append(dict(fold=fold, seed=0, train_subjects=2, n_added=0, arm="real", macro_f1=0.4))
    text = paired_table(pd.DataFrame(rows), "macro_f1", base="classical", arms=["cgan:kinematic"])
    assert "against `classical` (same fold, seed, size and number added)" in text
    assert "| mean diff | sd | 95 % CI | wins/n |" in text
    assert "share its test" not in text  # one seed per fold: the pairs are independent
    assert "| 2 | 50 | cgan:kinematic | +0.020 | 0.000 | +0.020 to +0.020 | 3/3 |" in text
    assert "| 2 | 150 | cgan:kinematic | -0.010 | 0.000 | -0.010 to -0.010 | 0/3 |" in text
    # a spread: the t interval of the mean (t(0.975, 2) = 4.303)
    for r in rows:
        if r["arm"] == "cgan:kinematic" and r["n_added"] == 50:
            r["macro_f1"] += 0.1 * r["fold"]  # gains 0.02, 0.12, 0.22
    text = paired_table(pd.DataFrame(rows), "macro_f1", base="classical", arms=["cgan:kinematic"])
    assert "| 2 | 50 | cgan:kinematic | +0.120 | 0.100 | -0.128 to +0.368 | 3/3 |" in text
    twice = pd.DataFrame(rows + [{**r, "seed": 1} for r in rows])
    assert "share its test subjects" in paired_table(twice, "macro_f1", base="classical")
    assert "| real |" not in text


def test_summaries_pair_each_class_recall_of_the_gan_arms_against_their_rival(tmp_path):
    from imusynth.experiments.report import paired_class_table

    rows = []
    for fold in range(3):
        for arm, recalls in (
            ("none", (0.2, 0.9)),
            ("smote", (0.4, 0.9)),
            ("cgan:kinematic", (0.6, 0.8 + 0.1 * (fold == 2))),
        ):
            row = {"experiment": "r", "fold": fold, "seed": 0, "train_subjects": 4}
            row |= {"n_added": 0, "arm": arm, "accuracy": 0.5, "macro_f1": 0.5}
            row |= {f"recall_{c}": v for c, v in enumerate(recalls)}
            rows.append(row)
    out = tmp_path / "reb"
    out.mkdir()
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    text = summarise(out / "results.csv", out, ("IR", "PEN")).read_text()
    assert "Per-class recall, paired difference against `smote`" in text
    assert "| train subjects | added / class | arm | IR | PEN |" in text
    # IR: +0.2 in every fold; PEN: -0.1, -0.1 and 0.0 (a tie is no win)
    assert "| 4 | 0 | cgan:kinematic | +0.200 (3/3) | -0.067 (0/3) |" in text
    assert "| none |" not in text.split("Per-class recall")[1]  # only the GAN arms
    no_recalls = pd.DataFrame(rows).drop(columns=["recall_0", "recall_1"])
    assert paired_class_table(no_recalls, "smote") == ""
    assert paired_class_table(pd.DataFrame(rows), "classical") == ""

"""The experiment runner on images: the liver-lesion study through the same grid code."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.errors import ConfigError
from imusynth.experiments import load_experiment, run_experiment, summarise


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _images(per_class=8, patients=6):
    from imusynth.data import ImageSet
    from imusynth.data.phantoms import make_liver_phantoms

    d = make_liver_phantoms((per_class,) * 3, n_patients=patients, rng=np.random.default_rng(0))
    return ImageSet(
        X=d["X"],
        y=d["y"],
        groups=d["groups"],
        classes=d["classes"],
        channels=("intensity",),
        units=("scaled",),
        sampling_rate_hz=0.0,
    )


def _image_config(tmp_path, arms):
    text = f"""
name = "ct"
kind = "augmentation"
data = "unused.h5"
[cv]
n_splits = 2
seeds = [0]
stratify = true
[grid]
arms = {arms!r}
train_subjects = [0]
n_added = [0, 4]
classical_base = 2
[classifier]
arch = "frid_adar"
epochs = 2
sample_budget = 20
val_fraction = 0.0
batch_size = 32
[gan]
config = "{BUNDLED_DIR / "ct_dcgan.toml"}"
set = ["train.steps=2", "train.batch_size=4", "model.g_width=4", "model.d_width=4"]
augment_to = 6
[augment]
rotation_deg = 180.0
flip = 0.5
shift_px = 2
zoom = 0.1
""".replace("'", '"')
    path = tmp_path / "ct.toml"
    path.write_text(text)
    return path


def test_image_grid_runs_the_same_runner(tmp_path):
    ims = _images()
    arms = ["real", "classical", "classical+cgan:dcgan", "classical+cgan:acgan"]
    cfg = load_experiment(_image_config(tmp_path, arms))
    out = tmp_path / "res"
    rows = _rows(run_experiment(cfg, out, windows=ims))
    assert len(rows) == 2 * (1 + 3)
    for r in rows:
        n_test = sum(int(r[f"cm_{i}_{j}"]) for i in range(3) for j in range(3))
        correct = sum(int(r[f"cm_{i}_{i}"]) for i in range(3))
        assert n_test > 0 and float(r["accuracy"]) == pytest.approx(correct / n_test)
        added = {"real": 0, "classical": 4, "classical+cgan:dcgan": 2 + 4}
        assert float(r["added_per_class"]) == added.get(r["arm"], 6)
        assert int(r["n_train_added"]) == 3 * added.get(r["arm"], 6)
    assert sorted(p.name for p in (out / "gans").iterdir()) == [
        f"fold{f}-seed0-k0-{g}" for f in (0, 1) for g in ("acgan", "dcgan")
    ]
    # one DCGAN per class, one AC-GAN
    assert len(list((out / "gans" / "fold0-seed0-k0-dcgan").glob("class*/checkpoint.pt"))) == 3
    assert (out / "gans" / "fold0-seed0-k0-acgan" / "checkpoint.pt").exists()
    text = summarise(out / "results.csv", out).read_text()
    assert "specificity" in text and "| metastasis |" in text and "(6 on average)" in text
    assert (out / "accuracy_vs_added.png").stat().st_size > 5000


def test_image_folds_are_stratified_by_patient(tmp_path):
    from imusynth.experiments import grid

    ims = _images(per_class=6, patients=9)
    cfg = load_experiment(_image_config(tmp_path, ["real"]))
    for train, test in grid.make_folds(cfg, ims):
        assert not set(ims.groups[train]) & set(ims.groups[test])
        assert set(ims.y[test]) == {0, 1, 2}


def test_window_generator_on_images_is_refused(tmp_path):
    cfg = load_experiment(_image_config(tmp_path, ["real", "cgan:conv1d"]))
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, tmp_path / "r", windows=_images())
    assert info.value.field == "grid.arms" and "dcgan" in info.value.message


def test_sensitivity_and_specificity_of_a_confusion_matrix():
    from imusynth.metrics.classification import sensitivity_specificity

    cm = np.array([[5, 1, 0], [2, 6, 2], [0, 0, 4]])  # rows true, columns predicted
    sens, spec = sensitivity_specificity(cm)
    assert sens.tolist() == pytest.approx([5 / 6, 6 / 10, 4 / 4])
    # class 0: 14 others, 2 of them called class 0; class 2: 16 others, 2 called class 2
    assert spec.tolist() == pytest.approx([12 / 14, 9 / 10, 14 / 16])


def test_sample_budget_shrinks_epochs_for_large_training_sets(tmp_path):
    from imusynth.experiments.run import _classifier

    cfg = load_experiment(_image_config(tmp_path, ["real"]))  # epochs 2, sample_budget 20
    assert _classifier(cfg, "cpu", seed=0, n_train=5).epochs == 2  # 4 epochs fit the budget
    assert _classifier(cfg, "cpu", seed=0, n_train=15).epochs == 2  # ceil(20 / 15)
    assert _classifier(cfg, "cpu", seed=0, n_train=50).epochs == 1
    path = _image_config(tmp_path, ["real"])
    path.write_text(path.read_text().replace("sample_budget = 20", "sample_budget = 0"))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert info.value.field == "classifier.sample_budget"

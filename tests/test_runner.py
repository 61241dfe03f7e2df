"""Experiment runner: grid bookkeeping, in-fold fitting, resume, parallel == serial."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.experiments import load_experiment, run_experiment, summarise

from .conftest import ROOT


def _windows(n_subjects=4, per_class=6, classes=("A", "B", "C"), length=32) -> WindowSet:
    g = np.random.default_rng(0)
    y = np.tile(np.repeat(np.arange(len(classes)), per_class), n_subjects)
    t = np.arange(length) / 50.0
    base = np.sin(2 * np.pi * (1 + y[:, None]) * t)  # class = frequency
    X = np.repeat(base[:, None], 6, axis=1) + 0.3 * g.normal(size=(len(y), 6, length))
    return WindowSet(
        X=X.astype(np.float32),
        y=y,
        groups=np.repeat([f"s{i}" for i in range(n_subjects)], per_class * len(classes)),
        classes=classes,
        channels=("ax", "ay", "az", "wx", "wy", "wz"),
        units=("g",) * 3 + ("rad/s",) * 3,
        sampling_rate_hz=50.0,
        side=np.full(len(y), "right"),
    )


def _config(tmp_path, kind="augmentation", arms=None, extra=""):
    arms = arms or ["real", "classical", "cgan:conv1d", "synthetic:conv1d"]
    text = f"""
name = "t"
kind = "{kind}"
data = "unused.h5"
[cv]
n_splits = 2
seeds = [0]
[grid]
arms = {arms!r}
train_subjects = [0]
n_added = [0, 4]
[classifier]
arch = "frid_adar"
epochs = 2
val_fraction = 0.0
batch_size = 16
[gan]
config = "{BUNDLED_DIR / "watch_cgan.toml"}"
set = ["train.steps=3", "train.batch_size=8", "train.checkpoint_every=0",
       "model.g_width=32", "model.d_width=8"]
{extra}
""".replace("'", '"')
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_augmentation_grid_runs_and_resumes(tmp_path, monkeypatch):
    from imusynth.train import classifiers

    seen = []
    original = classifiers.CNNClassifier.fit

    def spy(self, X, y, groups=None):
        seen.append(None if groups is None else set(groups))
        return original(self, X, y, groups)

    monkeypatch.setattr(classifiers.CNNClassifier, "fit", spy)
    ws = _windows()
    cfg = load_experiment(_config(tmp_path))
    out = tmp_path / "res"
    results = run_experiment(cfg, out, windows=ws)
    rows = _rows(results)
    # per fold: real once, and 3 other arms at n_added=4
    assert len(rows) == 2 * (1 + 3)
    assert {r["arm"] for r in rows} == {"real", "classical", "cgan:conv1d", "synthetic:conv1d"}
    for r in rows:
        assert 0.0 <= float(r["accuracy"]) <= 1.0
        if r["arm"] == "synthetic:conv1d":
            assert int(r["n_train_real"]) == 0 and int(r["n_train_added"]) == 3 * 4
        elif r["arm"] != "real":
            assert int(r["n_train_added"]) == 3 * 4
    # GANs are trained once per fold and cached
    assert sorted(p.name for p in (out / "gans").iterdir()) == [
        "fold0-seed0-k0-conv1d",
        "fold1-seed0-k0-conv1d",
    ]
    # resume: nothing left to do, nothing new is fitted
    n_fits = len(seen)
    run_experiment(cfg, out, windows=ws)
    assert len(_rows(results)) == len(rows) and len(seen) == n_fits
    # a lost row is recomputed, and only that one
    with open(results, newline="") as fh:
        lines = fh.readlines()
    with open(results, "w", newline="") as fh:
        fh.writelines(lines[:-1])
    run_experiment(cfg, out, windows=ws)
    assert len(_rows(results)) == len(rows) and len(seen) == n_fits + 1
    summary = summarise(results, out)
    text = summary.read_text()
    assert "± " in text and "Paired difference" in text
    assert (out / "accuracy_vs_added.png").stat().st_size > 5000
    assert (out / "paired.png").stat().st_size > 5000  # every arm minus real, cGAN minus classical


def test_training_subjects_never_include_test_subjects(tmp_path, monkeypatch):
    from imusynth.experiments import run as runner

    ws = _windows(n_subjects=6)
    calls = []
    original = runner._run_unit

    def spy(cfg, windows, split, unit, *args):
        train_idx, test_idx = split
        calls.append((set(windows.groups[train_idx]), set(windows.groups[test_idx])))
        return original(cfg, windows, split, unit, *args)

    monkeypatch.setattr(runner, "_run_unit", spy)
    cfg = load_experiment(_config(tmp_path, arms=["real"]))
    run_experiment(cfg, tmp_path / "r", windows=ws)
    assert len(calls) == 2
    for train, test in calls:
        assert train and test and not train & test


def test_rebalancing_cuts_and_tops_up(tmp_path, caplog):
    ws = _windows(per_class=10)
    extra = '[rebalance]\nclasses = ["B"]\nfraction = 0.2'
    arms = ["reference", "none", "class_weight", "random_over", "smote", "classical_over"]
    cfg = load_experiment(_config(tmp_path, kind="rebalancing", arms=arms, extra=extra))
    with caplog.at_level(logging.INFO, logger="imusynth.experiments.run"):
        rows = _rows(run_experiment(cfg, tmp_path / "r", windows=ws))
    assert len(rows) == 2 * len(arms)
    # Without a progress bar, the log says the pace: a line per finished unit (two folds).
    pace = [r.message for r in caplog.records if " cells, " in r.message]
    assert len(pace) == 2
    assert "fold 0 seed 0 done, 6/12 cells" in pace[0] and pace[0].endswith(" left")
    assert "fold 1 seed 0 done, 12/12 cells" in pace[1] and "left" not in pace[1]
    by_arm = {r["arm"]: r for r in rows if r["fold"] == "0"}
    per_fold_class = 2 * 10  # two training subjects x 10 windows
    assert int(by_arm["reference"]["n_train_real"]) == 3 * per_fold_class
    assert int(by_arm["none"]["n_train_real"]) == 2 * per_fold_class + 4  # B cut to 20 %
    for arm in ("random_over", "smote", "classical_over"):
        assert int(by_arm[arm]["n_train_added"]) == per_fold_class - 4
    assert all(r["minority_recall"] != "" for r in rows)


def test_classifier_seeds_average_each_cell_over_paired_seeds(tmp_path, monkeypatch):
    from imusynth.experiments import run as runner
    from imusynth.train import classifiers

    ws = _windows()
    arms = ["real", "classical"]
    states, scores = [], []
    fit, score = classifiers.CNNClassifier.fit, runner._scores

    def spy_fit(self, X, y, groups=None):
        states.append(self.random_state)
        return fit(self, X, y, groups)

    def spy_scores(*args):
        scores.append(score(*args))
        return scores[-1]

    monkeypatch.setattr(classifiers.CNNClassifier, "fit", spy_fit)
    monkeypatch.setattr(runner, "_scores", spy_scores)
    one = _rows(
        run_experiment(load_experiment(_config(tmp_path, arms=arms)), tmp_path / "1", windows=ws)
    )
    single_states = list(states)
    states.clear()
    scores.clear()
    path = (
        _config(tmp_path, arms=arms, extra="")
        .read_text()
        .replace("[classifier]", "[classifier]\nseeds = 3")
    )
    (tmp_path / "exp3.toml").write_text(path)
    three = _rows(
        run_experiment(load_experiment(tmp_path / "exp3.toml"), tmp_path / "3", windows=ws)
    )
    assert len(three) == len(one) == 2 * 2  # real (0 added) and classical (4), two folds
    assert len(states) == 3 * len(three)
    # each cell: the single-seed study's seed first, then two more; arms of a unit share them
    cells = [states[i : i + 3] for i in range(0, len(states), 3)]
    assert [c[0] for c in cells] == single_states
    assert all(len(set(c)) == 3 for c in cells)
    assert cells[0] == cells[1] != cells[2]  # fold 0's two cells share; fold 1 draws anew
    n_test = 2 * 3 * 6  # two held-out subjects x 3 classes x 6 windows
    for k, row in enumerate(three):
        mine = scores[3 * k : 3 * k + 3]
        assert float(row["macro_f1"]) == pytest.approx(np.mean([s["macro_f1"] for s in mine]))
        assert float(row["macro_f1_seed_sd"]) == pytest.approx(
            np.std([s["macro_f1"] for s in mine], ddof=1)
        )
        assert int(row["classifier_seeds"]) == 3
        assert sum(int(row[f"cm_{i}_{j}"]) for i in range(3) for j in range(3)) == 3 * n_test
    # the first seed's scores are the single-seed study's row
    assert scores[0]["macro_f1"] == pytest.approx(float(one[0]["macro_f1"]))
    text = summarise(tmp_path / "3" / "results.csv", tmp_path / "3").read_text()
    assert "mean of 3 classifiers" in text
    import pandas as pd

    from imusynth.plots.experiments import caption

    df = pd.read_csv(tmp_path / "3" / "results.csv")
    assert caption(df, "bars").endswith("each the mean of 3 classifiers")
    assert "classifiers" not in caption(pd.read_csv(tmp_path / "1" / "results.csv"), "bars")


def test_parallel_workers_log_the_gans_pace_as_the_caller_would(tmp_path):
    # A unit's GAN trains for minutes to an hour in a worker process; the caller's log (a
    # terminal, nohup, a cluster job) shows its pace, not nothing until the unit ends.
    import subprocess
    import sys

    script = f"""
import logging, sys
sys.path.insert(0, {str(ROOT)!r})
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from pathlib import Path
from imusynth.experiments import load_experiment, run_experiment
from tests.test_runner import _config, _windows
cfg = load_experiment(_config(Path({str(tmp_path)!r}), arms=["real", "cgan:conv1d"]))
run_experiment(cfg, Path({str(tmp_path)!r}) / "res", windows=_windows(), jobs=2)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for fold in (0, 1):
        assert f"imusynth.train.loop: fold{fold}-seed0-k0-conv1d: step 1/3" in done.stderr


def test_a_results_folder_adopts_the_finished_gans_of_another(tmp_path, monkeypatch):
    from imusynth.gan import ConditionalGAN

    ws = _windows()
    first = tmp_path / "first"
    cfg = load_experiment(_config(tmp_path, arms=["real", "cgan:conv1d"]))
    one = _rows(run_experiment(cfg, first, windows=ws))
    fits = []
    fit = ConditionalGAN.fit
    monkeypatch.setattr(
        ConditionalGAN, "fit", lambda self, *a, **k: fits.append(1) or fit(self, *a, **k)
    )
    # other arms and classifier seeds on the same GANs: none trains again
    text = _config(tmp_path, arms=["cgan:conv1d", "synthetic:conv1d"]).read_text()
    (tmp_path / "other.toml").write_text(text.replace("[classifier]", "[classifier]\nseeds = 2"))
    other = load_experiment(tmp_path / "other.toml")
    second = tmp_path / "second"
    two = _rows(run_experiment(other, second, windows=ws, gans_from=first))
    assert fits == [] and len(two) == 2 * 2
    assert sorted(p.name for p in (second / "gans").iterdir()) == [
        "fold0-seed0-k0-conv1d",
        "fold1-seed0-k0-conv1d",
    ]
    assert (second / "gan_config.toml").read_text() == (first / "gan_config.toml").read_text()
    # the same GAN, the same arm, the first classifier seed: the same windows and scores
    key = lambda r: (r["fold"], r["arm"], r["n_added"])  # noqa: E731
    mine = {key(r): r for r in one}
    for r in two:
        if r["arm"] == "cgan:conv1d":
            assert int(r["n_train_added"]) == int(mine[key(r)]["n_train_added"])
    # GANs trained on anything else are refused before a row is written: other folds, another
    # rare-class cut, other GAN settings
    for edit, field in (
        (("n_splits = 2", "n_splits = 3"), "n_splits"),
        (('set = ["train.steps=3"', 'set = ["train.steps=4"'), "gan_set"),
    ):
        (tmp_path / "bad.toml").write_text(text.replace(*edit))
        with pytest.raises(ConfigError) as info:
            run_experiment(
                load_experiment(tmp_path / "bad.toml"),
                tmp_path / "bad",
                windows=ws,
                gans_from=first,
            )
        assert info.value.field == field
        assert not (tmp_path / "bad" / "results.csv").exists()
    with pytest.raises(ConfigError, match="not a results folder with GANs"):
        run_experiment(other, tmp_path / "third", windows=ws, gans_from=tmp_path)


def test_parallel_equals_serial(tmp_path):
    ws = _windows()
    cfg = load_experiment(_config(tmp_path, arms=["real", "classical"]))
    serial = _rows(run_experiment(cfg, tmp_path / "s", windows=ws))
    parallel = _rows(run_experiment(cfg, tmp_path / "p", windows=ws, jobs=2))
    key = lambda r: (r["fold"], r["arm"], r["n_added"])  # noqa: E731
    assert sorted(serial, key=key) == sorted(parallel, key=key)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('kind = "augmentation"', 'kind = "magic"'), "kind"),
        (lambda t: t.replace('"real",', '"real", "gan:conv1d",'), "grid.arms"),
        (lambda t: t.replace("n_splits = 2", "n_splits = 2\nfolds = 3"), "cv.folds"),
        (lambda t: t.replace('name = "t"', 'name = "t"\ncolour = 1'), "colour"),
    ],
)
def test_bad_experiment_configs(tmp_path, edit, field):
    path = _config(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert info.value.field == field


def test_shipped_configs_parse_and_quick_overrides():
    for name in ("watch_augmentation", "watch_rebalancing"):
        full = load_experiment(ROOT / "experiments" / f"{name}.toml")
        quick = load_experiment(ROOT / "experiments" / f"{name}.toml", quick=True)
        assert quick.n_splits < full.n_splits
        assert quick.classifier["epochs"] < full.classifier["epochs"]


def test_gans_of_a_results_folder_train_from_one_frozen_config(tmp_path, caplog):
    import logging

    gan_cfg = tmp_path / "gan.toml"
    gan_cfg.write_text((BUNDLED_DIR / "watch_cgan.toml").read_text())
    text = _config(tmp_path, arms=["real", "cgan:conv1d"]).read_text()
    exp = tmp_path / "exp.toml"
    exp.write_text(text.replace(str(BUNDLED_DIR / "watch_cgan.toml"), str(gan_cfg)))
    out = tmp_path / "res"
    run_experiment(load_experiment(exp), out, windows=_windows(n_subjects=2), progress=False)
    frozen = (out / "gan_config.toml").read_text()
    assert "latent_dim = 64" in frozen and "[train]" in frozen  # the whole config, as TOML
    # The config file changes under a resumed run: the frozen copy still rules, with a warning.
    gan_cfg.write_text(gan_cfg.read_text().replace("latent_dim = 64", "latent_dim = 16"))
    (out / "results.csv").unlink()
    import shutil

    shutil.rmtree(out / "gans")
    with caplog.at_level(logging.WARNING, logger="imusynth.experiments"):
        run_experiment(load_experiment(exp), out, windows=_windows(n_subjects=2), progress=False)
    assert "has changed since this results folder was started" in caplog.text
    assert (out / "gan_config.toml").read_text() == frozen
    run = (out / "gans" / "fold0-seed0-k0-conv1d" / "config.toml").read_text()
    assert "latent_dim = 64" in run and "latent_dim = 16" not in run
    # A broken GAN config fails at once, before any classifier trains.
    gan_cfg.write_text("[model]\nno_such_key = 1\n")
    with pytest.raises(ConfigError, match="no_such_key"):
        run_experiment(load_experiment(exp), tmp_path / "res2", windows=_windows(n_subjects=2))
    assert not (tmp_path / "res2" / "results.csv").exists()


def test_the_frozen_gan_config_reads_the_same_data_spec(tmp_path, caplog):
    import logging

    from imusynth.config import find_config_file
    from imusynth.experiments.config import freeze_gan_config
    from imusynth.train.config import load_config

    exp = load_experiment(ROOT / "experiments" / "watch_augmentation_all8.toml")
    (tmp_path / "res").mkdir()
    frozen = freeze_gan_config(exp, tmp_path / "res")
    assert Path(frozen.gan.config).parent == tmp_path / "res"
    with caplog.at_level(logging.INFO, logger="imusynth.train.config"):
        spec = load_config(frozen.gan.config).data.spec
    assert find_config_file(spec) == BUNDLED_DIR / "watch.toml"
    assert "relative to the working directory" not in caplog.text
    # the bundled spec by its name: the copy reads the same from another checkout or install
    assert 'spec = "watch.toml"' in (tmp_path / "res" / "gan_config.toml").read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="imusynth.experiments.config"):
        freeze_gan_config(exp, tmp_path / "res")
    assert "has changed" not in caplog.text


def test_old_runner_module_still_exports_the_public_names():
    import imusynth.experiments
    import imusynth.runner

    for name in ("load_experiment", "run_experiment", "summarise", "ExperimentConfig", "Wording"):
        assert getattr(imusynth.runner, name) is getattr(imusynth.experiments, name)


def test_a_new_arm_is_one_registered_function(tmp_path, monkeypatch):
    from imusynth.experiments import arms

    monkeypatch.setattr(arms, "ARMS", dict(arms.ARMS))

    @arms.arm("twice", ("augmentation",))
    def _twice(a):  # every real window twice
        t = a.train
        return np.concatenate([t.X, t.X]), np.tile(t.y, 2), np.tile(t.groups, 2), {}

    cfg = load_experiment(_config(tmp_path, arms=["real", "twice"]))
    assert cfg.arms == ("real", "twice")
    rows = _rows(run_experiment(cfg, tmp_path / "r", windows=_windows()))
    twice = [r for r in rows if r["arm"] == "twice"]
    assert len(twice) == 2  # two folds, n_added 4 only
    assert all(r["n_train_added"] == r["n_train_real"] for r in twice)
    with pytest.raises(ConfigError) as info:
        load_experiment(_config(tmp_path, kind="rebalancing", arms=["twice"]))
    assert info.value.field == "grid.arms"

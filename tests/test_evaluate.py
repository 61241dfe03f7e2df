"""evaluate(): the report of a synthetic set, end to end on tiny window sets."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from imusynth.data import WindowSet, write_windows
from imusynth.errors import DataError
from imusynth.evaluation.evaluate import FIGURES, evaluate, summary_rows

CLASSES = ("ABD", "FEL", "IR")
CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")
RF = {
    "classifier": "rf",
    "classifier_params": {"n_estimators": 30},
    "judge_repeats": 3,
    "timegan": False,
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # OpenMP spin-waits on an oversubscribed CPU
    yield
    torch.set_num_threads(n)


def make_set(subjects, n_per=6, seed=0, source="real", noise=False) -> WindowSet:
    """Per class a sine of its own frequency on an offset channel, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.repeat(np.arange(len(CLASSES)), n_per), len(subjects))
    t = np.arange(64) / 50.0
    X = 0.2 * rng.normal(size=(len(y), len(CHANNELS), 64))
    if not noise:
        X[:, 0] += y[:, None] - 1.0
        X[:, 4] += np.sin(2 * np.pi * (1 + 2 * y)[:, None] * t + rng.uniform(0, 6, (len(y), 1)))
    else:
        X = rng.normal(size=X.shape)
    return WindowSet(
        X=X.astype(np.float32),
        y=y,
        groups=np.repeat(subjects, len(CLASSES) * n_per),
        classes=CLASSES,
        channels=CHANNELS,
        units=("g",) * 3 + ("rad/s",) * 3,
        sampling_rate_hz=50.0,
        is_synthetic=np.full(len(y), source == "synthetic"),
        source=source,
    )


def test_evaluate_writes_metrics_and_figures(tmp_path):
    train = make_set(["s1", "s2", "s3", "s5"], seed=0)
    test = make_set(["s4"], seed=1)
    good = make_set(["G"], n_per=10, seed=2, source="synthetic")
    out = tmp_path / "report"
    m = evaluate(train, test, good, seed=0, out_dir=out, **RF)
    on_disk = json.loads((out / "metrics.json").read_text())
    for key in (
        "trtr_accuracy",
        "tstr_accuracy",
        "trts_accuracy",
        "discriminative_score",
        "discriminative_score_sd",
        "discriminative_score_floor",
        "discriminative_score_floor_sd",
        "discriminative_score_random_split",
        "timegan_discriminative_score",
        "timegan_predictive_score",
        "frechet_distance",
        "mmd",
        "psd_distance",
        "autocorrelation_distance",
        "diversity_ratio",
        "per_class",
        "judges",
    ):
        assert key in on_disk, key
    # The held-out score and its floor, with the value of every subject split.
    assert len(on_disk["judges"]["heldout"]["values"]) == 3
    assert on_disk["discriminative_score"] == pytest.approx(
        np.mean(on_disk["judges"]["heldout"]["values"])
    )
    assert len(on_disk["judges"]["heldout_floor"]["values"]) == 3
    assert on_disk["timegan_discriminative_score"] is None  # skipped: timegan=False
    report = (out / "report.md").read_text()
    assert "subject-held-out" in report and "real vs real floor" in report
    assert on_disk["trtr_accuracy"] == m["trtr_accuracy"]
    assert set(on_disk["per_class"]) == set(CLASSES)
    assert {"tstr_sensitivity", "tstr_specificity", "psd_distance"} <= set(
        on_disk["per_class"]["IR"]
    )
    assert sorted(on_disk["figures"]) == sorted(FIGURES)
    for name in FIGURES:
        assert (out / name).stat().st_size > 1000
    giveaway = (out / "giveaway.csv").read_text().splitlines()
    assert giveaway[0].startswith("feature,") and len(giveaway) == 11  # header + top 10
    assert "What gives the synthetic windows away" in report
    for key in ("embedded_frechet_distance", "embedded_mmd", "coverage", "density"):
        assert on_disk[key] is not None and on_disk[key + "_reference"] is not None, key
    assert not list(out.glob(".*tmp"))  # no partial files left behind
    # A generator that samples the real distribution is useful and hard to tell apart.
    assert m["trtr_accuracy"] >= 0.9 and m["tstr_accuracy"] >= 0.9 and m["trts_accuracy"] >= 0.9
    assert m["discriminative_score"] < 0.25 and m["discriminative_score_floor"] < 0.25
    assert 0.7 < m["diversity_ratio"] < 1.3
    assert m["kinematic"] is None  # off by default: inverse kinematics is slow


def test_evaluate_ranks_a_bad_generator_worse():
    train = make_set(["s1", "s2", "s3"], seed=0)
    test = make_set(["s4"], seed=1)
    good = evaluate(train, test, make_set(["G"], seed=2, source="synthetic"), **RF)
    bad = evaluate(train, test, make_set(["G"], seed=2, source="synthetic", noise=True), **RF)
    assert bad["discriminative_score"] > 0.4 > good["discriminative_score"]
    for key in (
        "frechet_distance",
        "mmd",
        "psd_distance",
        "autocorrelation_distance",
        "embedded_frechet_distance",
        "embedded_mmd",
    ):
        assert bad[key] > good[key], key
    # On the window-feature embedding, noise lies far from real windows; the good generator
    # lies about as far as real windows of another subject (its reference).
    assert bad["embedded_frechet_distance"] > 5 * good["embedded_frechet_distance_reference"]
    assert good["embedded_frechet_distance"] < 3 * good["embedded_frechet_distance_reference"]
    assert bad["coverage"] < 0.2 < good["coverage"]
    assert bad["tstr_accuracy"] < 0.6 < good["tstr_accuracy"]
    # The giveaway table names what separates noise from real windows almost perfectly.
    assert abs(bad["giveaway"][0]["auc"] - 0.5) > 0.45
    assert abs(good["giveaway"][0]["auc"] - 0.5) < abs(bad["giveaway"][0]["auc"] - 0.5)


def test_evaluate_with_a_cnn(tmp_path):
    train = make_set(["s1", "s2"], seed=0)
    test = make_set(["s3"], seed=1)
    syn = make_set(["G"], seed=2, source="synthetic")
    params = {"epochs": 3, "val_fraction": 0.0, "batch_size": 16}
    m = evaluate(
        train,
        test,
        syn,
        classifier="frid_adar",
        classifier_params=params,
        judge_repeats=2,
        timegan_iterations=(3, 3),
    )
    assert m["config"]["classifier"] == "frid_adar"
    # TimeGAN's GRU judges run by default, each with its reference.
    for key in ("timegan_discriminative_score", "timegan_discriminative_score_reference"):
        assert 0.0 <= m[key] <= 0.5, key
    for key in ("timegan_predictive_score", "timegan_predictive_score_reference"):
        assert 0.0 < m[key] < 1.0, key
    assert m["config"]["timegan_iterations"] == [3, 3]
    assert m["discriminative_score_floor"] is None  # two training subjects: no floor
    names = [name for name, _, _ in summary_rows(m)]
    assert "predictive score (TimeGAN GRU, MAE)" in names
    assert np.isfinite(m["frechet_distance"]) and m["frechet_distance"] >= 0
    assert m["figures"] == []


def test_evaluate_refuses_shared_subjects(tmp_path):
    train = make_set(["s1", "s2", "s3"])
    test = make_set(["s3", "s2", "s9"], seed=1)
    with pytest.raises(DataError, match="s2, s3") as err:
        evaluate(train, test, make_set(["G"], source="synthetic"), out_dir=tmp_path, **RF)
    assert err.value.field == "groups"
    assert not (tmp_path / "metrics.json").exists()
    # Synthetic windows generated from a test subject reveal a generator fit on test data.
    with pytest.raises(DataError, match="s9"):
        evaluate(train, make_set(["s9"]), make_set(["s1", "s9"], source="synthetic"), **RF)


def test_evaluate_refuses_different_classes_or_channels():
    train, test = make_set(["s1"]), make_set(["s2"], seed=1)
    syn = make_set(["G"], source="synthetic")
    other_classes = dataclasses.replace(syn, classes=("ABD", "FEL", "ER"))
    with pytest.raises(DataError, match="classes") as err:
        evaluate(train, test, other_classes, **RF)
    assert err.value.field == "classes" and "synthetic" in str(err.value)
    other_channels = dataclasses.replace(test, channels=("ax", "ay", "az", "gx", "gy", "gz"))
    with pytest.raises(DataError, match="channels"):
        evaluate(train, other_channels, syn, **RF)
    shorter = dataclasses.replace(syn, X=syn.X[:, :, :32])
    with pytest.raises(DataError, match="shape"):
        evaluate(train, test, shorter, **RF)


def test_evaluate_kinematic_wiring(monkeypatch):
    import imusynth.evaluation.evaluate as ev

    calls = []

    def stub(X, fs, **kw):
        calls.append((len(X), fs, kw["max_windows"]))
        return {"within_rom": 1.0, "n": len(X)}

    monkeypatch.setattr(ev, "kinematic_plausibility", stub)
    train, test = make_set(["s1", "s2"]), make_set(["s3"], seed=1)
    syn = make_set(["G"], n_per=4, source="synthetic")
    m = evaluate(train, test, syn, kinematic=True, **RF)
    assert calls == [
        (len(syn), 50.0, ev.KINEMATIC_WINDOWS),
        (len(train), 50.0, ev.KINEMATIC_WINDOWS),
    ]
    assert m["kinematic"]["n"] == len(syn) and m["kinematic_reference"]["n"] == len(train)


def test_summary_rows_put_every_score_beside_its_reference():
    m = {
        "discriminative_score": 0.49,
        "discriminative_score_sd": 0.01,
        "discriminative_score_floor": None,
        "timegan_discriminative_score": None,
        "trtr_accuracy": 0.85,
        "tstr_accuracy": 0.6,
        "mmd": 0.2,
        "mmd_reference": 0.05,
    }
    rows = dict((name, (value, ref)) for name, value, ref in summary_rows(m))
    assert rows["discriminative score (subject-held-out)"] == (
        "0.49 ± 0.01",
        "real vs real floor n/a (needs 4 training subjects); 0 = indistinguishable, "
        "0.5 = always told apart",
    )
    assert rows["discriminative score (TimeGAN GRU)"][0] == "skipped"
    assert rows["TSTR accuracy"] == ("0.60", "TRTR 0.85 (real train, real test)")
    assert rows["MMD (normalised raw windows)"] == ("0.20", "real test vs real train 0.05")


def test_cli_evaluate_prints_each_score_with_its_reference(run_cli, tmp_path):
    paths = {}
    for name, ws in (
        ("train", make_set(["s1", "s2", "s3", "s4"], seed=0)),
        ("test", make_set(["s5"], seed=1)),
        ("synthetic", make_set(["G"], seed=2, source="synthetic", noise=True)),
    ):
        paths[name] = tmp_path / f"{name}.h5"
        write_windows(paths[name], ws)
    out = tmp_path / "report"
    code, stdout, stderr = run_cli(
        "evaluate",
        *("--train", paths["train"], "--test", paths["test"]),
        *("--synthetic", paths["synthetic"], "--out", out),
        *("--classifier", "rf", "--judge-repeats", "2", "--skip-gru-judges", "--device", "cpu"),
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    held = next(line for line in lines if line.startswith("discriminative score (subject-held"))
    assert "real vs real floor" in held and "0.5 = always told apart" in held
    assert float(held.split("held-out)")[1].split()[0]) > 0.4  # noise is told apart
    scores = [line for line in lines if not line.startswith("wrote")]
    assert len(scores) >= 6 and all("[" in line and line.endswith("]") for line in scores)
    assert (out / "metrics.json").exists() and (out / "report.md").exists()
    assert json.loads((out / "metrics.json").read_text())["config"]["judge_repeats"] == 2

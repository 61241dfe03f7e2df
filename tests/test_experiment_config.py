"""Experiment configs on the one config mechanism: the TOML keys users write, the errors
that name the file and the dotted key, config.json old and new, where gan.config is found."""

from __future__ import annotations

import json
import shutil

import pytest

from imusynth.config import BUNDLED_DIR, apply_overrides, from_dict
from imusynth.errors import ConfigError
from imusynth.experiments import ExperimentConfig, load_experiment, load_saved_config
from imusynth.experiments.config import BUNDLED_CONFIGS, SAVED_KEYS, portable_config

from .conftest import ROOT

TEXT = """
name = "t"
kind = "augmentation"
data = "windows.h5"
[cv]
n_splits = 3
seeds = [0, 1]
stratify = true
[grid]
arms = ["real", "classical", "cgan:conv1d"]
train_subjects = [2, 0]
n_added = [0, 4]
classical_base = 5
[classifier]
epochs = 2
[gan]
config = "gan.toml"
set = ["train.steps=3"]
augment_to = 7
generator_set = { conv1d = ["model.g_width=32"] }
[augment]
jitter = 1
rotation_deg = 15.0
[quick.cv]
n_splits = 2
[quick.gan]
set = []
"""


def _write(tmp_path, text=TEXT, gan=True):
    if gan:
        shutil.copy(BUNDLED_DIR / "watch_cgan.toml", tmp_path / "gan.toml")
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_every_key_lands_in_its_section_and_the_flat_names_still_read(tmp_path):
    cfg = load_experiment(_write(tmp_path))
    assert (cfg.cv.n_splits, cfg.cv.seeds, cfg.cv.stratify) == (3, (0, 1), True)
    assert cfg.grid.arms == ("real", "classical", "cgan:conv1d")
    assert (cfg.grid.train_subjects, cfg.grid.n_added, cfg.grid.classical_base) == (
        (2, 0),
        (0, 4),
        5,
    )
    assert cfg.gan.config == str((tmp_path / "gan.toml").resolve())
    assert cfg.gan.set == ("train.steps=3",) and cfg.gan.augment_to == 7
    assert cfg.gan.generator_set == {"conv1d": ("model.g_width=32",)}
    assert cfg.augment == {"jitter": 1.0, "rotation_deg": 15.0}
    assert isinstance(cfg.augment["jitter"], float)
    assert cfg.data == str((tmp_path / "windows.h5").resolve())
    assert cfg.path == str(tmp_path / "exp.toml") and cfg.name == "t"
    # The flat attribute names of earlier versions read the same values.
    for flat, dotted in SAVED_KEYS.items():
        value = cfg
        for part in dotted.split("."):
            value = getattr(value, part)
        assert getattr(cfg, flat) == value, flat
    with pytest.raises(AttributeError, match="no_such"):
        _ = cfg.no_such
    quick = load_experiment(tmp_path / "exp.toml", quick=True)
    assert quick.cv.n_splits == 2 and quick.cv.seeds == (0, 1) and quick.gan.set == ()


def test_the_config_mechanism_works_on_experiment_configs(tmp_path):
    cfg = load_experiment(_write(tmp_path))
    changed = apply_overrides(cfg, ["cv.n_splits=4", "grid.arms=['real']"])
    assert changed.n_splits == 4 and changed.grid.arms == ("real",) and cfg.cv.n_splits == 3
    with pytest.raises(ConfigError) as info:
        apply_overrides(cfg, ["cv.folds=4"])
    assert info.value.field == "cv.folds"
    # The name defaults to the file's stem.
    (tmp_path / "other.toml").write_text(TEXT.replace('name = "t"\n', ""))
    assert load_experiment(tmp_path / "other.toml").name == "other"
    assert from_dict(ExperimentConfig, {"cv": {"seeds": [3]}}).seeds == (3,)


def _edit(old, new):
    return lambda text: text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (_edit("n_splits = 3", "n_splits = 3\nfolds = 3"), "cv.folds", "unknown key"),
        (_edit('name = "t"', 'name = "t"\ncolour = 1'), "colour", "unknown key"),
        (_edit('name = "t"', 'name = "t"\npath = "x"'), "path", "valid keys: name, kind"),
        (_edit('name = "t"', 'name = "t"\ndevice = "cuda"'), "device", "unknown key"),
        (_edit("n_splits = 3", 'n_splits = "3"'), "cv.n_splits", "expected int"),
        (_edit("n_splits = 3", "n_splits = true"), "cv.n_splits", "expected int"),
        (_edit("seeds = [0, 1]", "seeds = 0"), "cv.seeds", "expected a list of integers"),
        (_edit("seeds = [0, 1]", "seeds = []"), "cv.seeds", "non-empty"),
        (_edit("train_subjects = [2, 0]", "train_subjects = [-1]"), "grid.train_subjects", ">="),
        (_edit("classical_base = 5", "classical_base = -5"), "grid.classical_base", ">="),
        (_edit('kind = "augmentation"\n', ""), "kind", "missing key"),
        (_edit('data = "windows.h5"\n', ""), "data", "missing key"),
        (_edit('arms = ["real", "classical", "cgan:conv1d"]\n', ""), "grid.arms", "missing"),
        (_edit('arms = ["real", "classical", "cgan:conv1d"]', "arms = []"), "grid.arms", "no arms"),
        (_edit('kind = "augmentation"', 'kind = "magic"'), "kind", "augmentation, rebalancing"),
        (_edit('"real",', '"real", "gan:conv1d",'), "grid.arms", "unknown arm 'gan:conv1d'"),
        (_edit("cgan:conv1d", "cgan:vae"), "grid.arms", "unknown generator 'vae'"),
        (_edit("jitter = 1", "jitter = true"), "augment.jitter", "expected a number"),
        (_edit("jitter = 1", "blur = 1"), "augment.blur", "unknown key"),
        (_edit("augment_to = 7", "augment_to = 7.5"), "gan.augment_to", "expected int"),
        (_edit("{ conv1d =", "{ vae ="), "gan.generator_set", "unknown generator 'vae'"),
        (_edit('["model.g_width=32"]', "1"), "gan.generator_set.conv1d", "list of strings"),
        (_edit("[cv]", "[cv]\n[cv.inner]"), "cv.inner", "unknown key"),
        (_edit("[classifier]", "[classifier]\nsample_budget = 0"), "classifier.sample_budget", ""),
        (_edit("[classifier]", "[classifier]\nseeds = 0"), "classifier.seeds", "positive"),
        (_edit("[classifier]", "[classifier]\nseeds = 2.0"), "classifier.seeds", "positive"),
        (
            lambda t: t.replace("augmentation", "rebalancing").replace(
                '"real", "classical"', '"none"'
            ),
            "rebalance.classes",
            "needs classes to cut",
        ),
        (lambda t: t + "[rebalance]\nfraction = 0.0\n", "rebalance.fraction", "(0, 1]"),
        (lambda t: t.replace("[quick.cv]", "[quick]\ncv = 3\n[quick.grid]"), "quick.cv", "table"),
        (lambda t: t.replace("[quick.cv]\nn_splits = 2", "[quick.cv]\nfolds = 2"), "cv.folds", ""),
    ],
)
def test_bad_experiment_configs_name_the_file_and_the_dotted_key(tmp_path, edit, field, words):
    path = _write(tmp_path, edit(TEXT))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
        load_experiment(path, quick=True)  # the [quick] tables' own errors
    assert info.value.field == field and info.value.path == str(path)
    assert words in info.value.message
    assert str(info.value).startswith(f"{path}: {field}: ")


def test_gan_config_is_found_beside_the_experiment_then_among_the_bundled_ones(tmp_path):
    bundled = BUNDLED_CONFIGS / "watch_cgan.toml"
    assert bundled.is_file()
    text = TEXT.replace('config = "gan.toml"', 'config = "watch_cgan.toml"')
    cfg = load_experiment(_write(tmp_path, text, gan=False))
    assert cfg.gan.config == str(bundled.resolve())
    # One beside the experiment file comes first.
    (tmp_path / "watch_cgan.toml").write_text("[train]\nsteps = 3\n")
    cfg = load_experiment(tmp_path / "exp.toml")
    assert cfg.gan.config == str((tmp_path / "watch_cgan.toml").resolve())
    # Found in neither place: the key and both places are named.
    path = _write(tmp_path, TEXT.replace('config = "gan.toml"', 'config = "nope.toml"'))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert info.value.field == "gan.config" and info.value.path == str(path)
    assert str(tmp_path / "nope.toml") in info.value.message
    assert str(BUNDLED_CONFIGS / "nope.toml") in info.value.message
    # An experiment without GAN arms never reads it: no error.
    path.write_text(path.read_text().replace(', "cgan:conv1d"]', "]"))
    assert load_experiment(path).gan.config == str(tmp_path / "nope.toml")


def test_config_json_keeps_its_flat_keys_and_loads_back(tmp_path):
    cfg = load_experiment(_write(tmp_path))
    out = tmp_path / "results" / "t"
    out.mkdir(parents=True)
    saved = portable_config(cfg, out)
    assert list(saved) == list(SAVED_KEYS)
    assert saved["gan_config"] == "../../gan.toml" and saved["n_splits"] == 3
    (out / "config.json").write_text(json.dumps(saved))
    assert load_saved_config(out) == cfg
    # Older files lack keys added since: they take the defaults.
    del saved["stratify"], saved["gan_generator_set"]
    (out / "config.json").write_text(json.dumps(saved))
    old = load_saved_config(out)
    assert old.cv.stratify is False and old.gan.generator_set == {}
    saved["n_splits"] = "3"
    (out / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ConfigError) as info:
        load_saved_config(out)
    assert info.value.field == "n_splits" and info.value.path == str(out / "config.json")
    saved["colour"] = 1
    (out / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ConfigError, match="colour: unknown key"):
        load_saved_config(out)


def test_config_json_names_bundled_configs_by_name(tmp_path):
    # from any checkout or install the saved config reads the same and loads back
    cfg = load_experiment(ROOT / "experiments" / "watch_rebalancing.toml")
    out = tmp_path / "results"
    out.mkdir()
    saved = portable_config(cfg, out)
    assert saved["data"] == "watch.toml" and saved["gan_config"] == "watch_cgan.toml"
    assert saved["path"].endswith("experiments/watch_rebalancing.toml")  # not bundled
    (out / "config.json").write_text(json.dumps(saved))
    (out / "watch.toml").write_text("a stray file beside the results is not the bundled one")
    back = load_saved_config(out)
    assert back.data == str(BUNDLED_CONFIGS / "watch.toml") and back == cfg


@pytest.mark.parametrize("name", ["watch_augmentation", "watch_rebalancing", "ct_augmentation"])
def test_committed_results_folders_load_their_saved_config(name):
    folder = ROOT / "experiments" / "results" / name
    saved = json.loads((folder / "config.json").read_text())
    cfg = load_saved_config(folder)
    assert cfg.arms == tuple(saved["arms"]) and cfg.cv.seeds == tuple(saved["seeds"])
    again = portable_config(cfg, folder)
    assert json.loads(json.dumps(again)) == saved

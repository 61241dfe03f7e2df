"""GAN configs: a relative ``[data] spec`` is relative to the config file; the configs
bundled with imusynth are found by name from any folder, and from a wheel install."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from imusynth.config import BUNDLED_DIR, bundled_names
from imusynth.data import load_spec
from imusynth.errors import ConfigError, SpecError
from imusynth.experiments.config import load_experiment
from imusynth.train.config import load_config

from .conftest import ROOT


@pytest.fixture
def project(tmp_path) -> Path:
    """``tmp/configs/gan.toml`` beside ``tmp/specs/s.toml``, and an unrelated ``tmp/elsewhere``."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.toml").write_text("")
    (tmp_path / "elsewhere").mkdir()
    return tmp_path


def _config(project: Path, spec: str) -> Path:
    path = project / "configs" / "gan.toml"
    path.write_text(f'[data]\nspec = "{spec}"\n')
    return path


def test_spec_is_relative_to_the_config_file(project, monkeypatch):
    config = _config(project, "../specs/s.toml")
    monkeypatch.chdir(project / "elsewhere")
    assert load_config(config).data.spec == str(project / "specs" / "s.toml")
    assert load_config(Path("..") / "configs" / "gan.toml").data.spec == str(
        project / "specs" / "s.toml"
    )
    # below the working directory it stays relative, so that run folders name no absolute path
    monkeypatch.chdir(project)
    assert load_config(Path("configs/gan.toml")).data.spec == str(Path("specs/s.toml"))
    assert load_config(config).data.spec == str(Path("specs/s.toml"))
    # a missing spec is looked for beside the config (what a later error will name)
    missing = _config(project, "nope.toml")
    assert load_config(missing).data.spec == str(Path("configs/nope.toml"))


def test_working_directory_fallback_only_when_the_config_relative_file_is_missing(
    project, monkeypatch
):
    config = _config(project, "specs/s.toml")  # the old style: relative to the repo root
    monkeypatch.chdir(project)
    assert load_config(config).data.spec == "specs/s.toml"
    monkeypatch.chdir(project / "elsewhere")  # found neither way: the config-relative one
    assert load_config(config).data.spec == str(project / "configs" / "specs" / "s.toml")
    (project / "configs" / "specs").mkdir()
    (project / "configs" / "specs" / "s.toml").write_text("")
    monkeypatch.chdir(project)  # both exist: the config-relative one wins
    assert load_config(config).data.spec == str(Path("configs/specs/s.toml"))


def test_overrides_and_absolute_specs_are_taken_as_given(project, monkeypatch):
    monkeypatch.chdir(project / "elsewhere")
    config = _config(project, str(project / "specs" / "s.toml"))
    assert load_config(config).data.spec == str(project / "specs" / "s.toml")
    config = _config(project, "../specs/s.toml")
    assert load_config(config, ["data.spec=mine.toml"]).data.spec == "mine.toml"
    assert load_config(None).data.spec == "watch.toml"  # the default: untouched


@pytest.mark.parametrize("cwd", ["root", "other"])
def test_shipped_gan_config_finds_its_spec_from_any_folder(cwd, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT if cwd == "root" else tmp_path)
    config = BUNDLED_DIR / "watch_cgan.toml"
    for path in (config, Path(config.relative_to(ROOT) if cwd == "root" else config)):
        spec = Path(load_config(path).data.spec)
        assert spec.is_file() and spec.resolve() == BUNDLED_DIR / "watch.toml"
    if cwd == "root":
        assert load_config(config).data.spec == str(Path("imusynth/configs/watch.toml"))


def test_bundled_configs_are_found_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(load_config("watch_cgan.toml").data.spec) == BUNDLED_DIR / "watch.toml"
    assert Path(load_config("ct_dcgan.toml").data.spec) == BUNDLED_DIR / "liver_phantoms.toml"
    assert load_spec("watch.toml").name == "watch"
    assert Path(load_config(None).data.spec).name == "watch.toml"
    exp = tmp_path / "exp.toml"
    text = (ROOT / "experiments" / "watch_rebalancing.toml").read_text()
    exp.write_text(text)  # data = "watch.toml", gan.config = "watch_cgan.toml"
    cfg = load_experiment(exp)
    assert Path(cfg.data) == BUNDLED_DIR / "watch.toml"
    assert Path(cfg.gan.config) == BUNDLED_DIR / "watch_cgan.toml"


def test_a_file_of_that_name_in_the_folder_wins_over_the_bundled_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (BUNDLED_DIR / "watch.toml").read_text()
    (tmp_path / "watch.toml").write_text(text.replace('name = "watch"', 'name = "mine"'))
    assert load_spec("watch.toml").name == "mine"
    (tmp_path / "gan.toml").write_text('[data]\nspec = "watch.toml"\n')
    assert load_config(tmp_path / "gan.toml").data.spec == "watch.toml"  # beside the config


def test_a_bare_name_in_a_toml_never_means_a_file_of_the_working_folder(tmp_path, monkeypatch):
    # an experiment in one folder names the bundled spec and GAN config; files of those
    # names where the user happens to stand are not what it meant
    work, studies = tmp_path / "work", tmp_path / "studies"
    work.mkdir()
    studies.mkdir()
    (work / "watch.toml").write_text('name = "stray"\n')
    (work / "watch_cgan.toml").write_text("[train]\nsteps = 1\n")
    exp = studies / "exp.toml"
    exp.write_text((ROOT / "experiments" / "watch_rebalancing.toml").read_text())
    monkeypatch.chdir(work)
    cfg = load_experiment(exp)
    assert Path(cfg.data) == BUNDLED_DIR / "watch.toml"
    assert Path(cfg.gan.config) == BUNDLED_DIR / "watch_cgan.toml"
    (studies / "watch.toml").write_text('name = "beside"\n')  # beside the experiment: its own
    assert Path(load_experiment(exp).data) == studies / "watch.toml"


def test_paths_of_the_files_before_they_moved_still_find_them_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.warns(DeprecationWarning, match="moved into imusynth"):
        assert load_config("experiments/watch_cgan.toml").train.steps > 0
    with pytest.warns(DeprecationWarning, match="moved into imusynth"):
        assert load_spec("data_specs/liver_phantoms.toml").name == "liver-phantoms"
    # A run folder written before: its config.toml names the spec relative to the old root.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('[data]\nspec = "data_specs/watch.toml"\n')
    with pytest.warns(DeprecationWarning, match="moved into imusynth"):
        assert Path(load_config(run / "config.toml").data.spec) == BUNDLED_DIR / "watch.toml"
    # Only those folders: another missing path of the same name is an error, not a guess.
    with pytest.raises(ConfigError, match="not found"):
        load_config("other/watch_cgan.toml")
    with pytest.raises(SpecError, match="not found"):
        load_spec("experiments/watch.toml")


def test_a_wheel_carries_the_bundled_configs(tmp_path):
    """A non-editable install (a wheel, ``pip install git+...``) has the default config and
    the embedded datasets' specs inside the package: ``imusynth train`` and ``imusynth
    demo`` need no repository beside them."""
    pytest.importorskip("setuptools", minversion="77")  # a test extra
    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT / "imusynth", src / "imusynth", ignore=shutil.ignore_patterns("__py*"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("imusynth-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        inside = {n for n in zf.namelist() if n.startswith("imusynth/configs/")}
    assert inside == {f"imusynth/configs/{name}" for name in bundled_names()}
    assert len(inside) == 4

"""GAN configs: a relative ``[data] spec`` is relative to the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert load_config(None).data.spec == "data_specs/watch.toml"  # the default: untouched


@pytest.mark.parametrize("cwd", ["root", "other"])
def test_shipped_gan_config_finds_its_spec_from_any_folder(cwd, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT if cwd == "root" else tmp_path)
    config = ROOT / "experiments" / "watch_cgan.toml"
    for path in (config, Path(config.relative_to(ROOT) if cwd == "root" else config)):
        spec = Path(load_config(path).data.spec)
        assert spec.is_file() and spec.resolve() == ROOT / "data_specs" / "watch.toml"
    if cwd == "root":
        assert load_config(config).data.spec == str(Path("data_specs/watch.toml"))

"""A run trained with ``imusynth train --data`` names the windows file it trained on."""

from __future__ import annotations

import hashlib
import tomllib

import pytest

from imusynth.data import WindowSet, write_windows

from .conftest import tiny_window_set

TINY_GAN = [
    "--set", "train.steps=2", "--set", "train.batch_size=8", "--set", "train.checkpoint_every=0",
    "--set", "model.g_width=32", "--set", "model.d_width=8", "--set", "model.generator=conv1d",
]  # fmt: skip


def _windows(shift: float = 0.0) -> WindowSet:
    return tiny_window_set(shift)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from imusynth.cli import main

    d = tmp_path_factory.mktemp("prov")
    w = write_windows(d / "w.h5", _windows())
    run = d / "run"
    assert main(["train", "--data", str(w), "--out", str(run), "-q", *TINY_GAN]) == 0
    return w, run


def test_config_names_the_windows_file_not_the_spec(trained):
    w, run = trained
    data = tomllib.loads((run / "config.toml").read_text())["data"]
    assert data["windows"] == str(w.resolve())
    assert not data.get("spec")  # the default watch spec was not used


def test_run_records_the_sha256_of_its_windows(trained):
    w, run = trained
    digest, _, name = (run / "data.sha256").read_text().strip().partition("  ")
    assert digest == hashlib.sha256(w.read_bytes()).hexdigest()
    assert name == str(w.resolve())


def test_run_with_its_provenance_still_loads(trained, tmp_path):
    from imusynth.cli import main

    _, run = trained
    out = tmp_path / "s.h5"
    assert main(["sample", "--run", str(run), "--per-class", "2", "--out", str(out), "-q"]) == 0
    assert out.exists()


def test_resume_on_other_windows_is_refused(trained, tmp_path, capsys):
    from imusynth.cli import main

    _, run = trained
    before = (run / "config.toml").read_text()
    other = write_windows(tmp_path / "other.h5", _windows(shift=1.0))
    argv = ["train", "--data", str(other), "--out", str(run), "--resume", "-q", *TINY_GAN]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data" in err[0] and "w.h5" in err[0], err
    assert (run / "config.toml").read_text() == before

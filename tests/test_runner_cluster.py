"""Experiment grids on joblib backends other than loky: Dask gives the serial run's results,
an unknown or missing backend is a ConfigError (exit code 2) before anything is written."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest

from imusynth.errors import ConfigError
from imusynth.experiments import load_experiment, run_experiment

from .test_runner import _config, _rows, _windows

ARMS = ["real", "classical", "cgan:conv1d"]


def _key(row):
    return (row["fold"], row["arm"], row["n_added"])


@pytest.fixture(scope="module")
def cluster():
    """Two in-process Dask workers of one thread each (no dashboard: no port to bind)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The tiny grid of tests/test_runner.py, run serially: (config path, windows, rows)."""
    folder = tmp_path_factory.mktemp("serial")
    ws = _windows()
    path = _config(folder, arms=ARMS)
    rows = _rows(run_experiment(load_experiment(path), folder / "res", windows=ws))
    return path, ws, rows


def test_dask_backend_equals_serial(cluster, serial, tmp_path, monkeypatch):
    import torch
    from distributed import Client

    from imusynth.experiments import run as runner

    path, ws, expected = serial
    threads, running = [], []
    original = runner._unit_rows

    def spy(*args):
        running.append(None)
        threads.append((torch.get_num_threads(), len(running)))
        try:
            return original(*args)
        finally:
            running.pop()

    monkeypatch.setattr(runner, "_unit_rows", spy)
    before = torch.get_num_threads()
    with Client(cluster):
        results = run_experiment(
            load_experiment(path), tmp_path / "d", windows=ws, jobs=2, backend="dask"
        )
    rows = _rows(results)
    assert sorted(rows, key=_key) == sorted(expected, key=_key)  # every column, every metric
    assert sorted(p.name for p in (tmp_path / "d" / "gans").iterdir()) == [
        "fold0-seed0-k0-conv1d",
        "fold1-seed0-k0-conv1d",
    ]
    # Every unit ran pinned to its worker's share of the cores, and alone in its process
    # (both workers' threads live in this one: torch's global RNG must not be shared); the
    # process is left as it was.
    assert threads == [(max(1, (os.cpu_count() or 1) // 2), 1)] * 2
    assert torch.get_num_threads() == before


def test_cli_backend_dask_via_scheduler_address(cluster, serial, tmp_path, run_cli):
    """``--backend dask`` connects to the scheduler that dask's ``scheduler-address`` setting
    (the DASK_SCHEDULER_ADDRESS variable) names, as on a cluster."""
    import dask
    from distributed import Client

    from imusynth.data import write_windows

    path, ws, expected = serial
    write_windows(tmp_path / "w.h5", ws)
    config = tmp_path / "exp.toml"
    config.write_text(path.read_text().replace("unused.h5", str(tmp_path / "w.h5")))
    try:
        with dask.config.set({"scheduler-address": cluster.scheduler_address}):
            code, _, err = run_cli(
                "experiment",
                config,
                "--out",
                tmp_path / "d",
                "--jobs",
                "2",
                "--backend",
                "dask",
                "-q",
            )
    finally:
        with contextlib.suppress(ValueError):
            Client.current().close()  # the one the runner connected
    assert code == 0, err
    rows = _rows(tmp_path / "d" / "results.csv")
    assert sorted(rows, key=_key) == sorted(expected, key=_key)


def test_dask_without_a_cluster_is_a_config_error(tmp_path):
    pytest.importorskip("distributed")
    cfg = load_experiment(_config(tmp_path, arms=["real"]))
    with pytest.raises(ConfigError, match="DASK_SCHEDULER_ADDRESS") as info:
        run_experiment(cfg, tmp_path / "r", windows=_windows(), backend="dask")
    assert info.value.field == "backend"
    assert not (tmp_path / "r").exists()


def test_unknown_backend_is_a_config_error(tmp_path, run_cli):
    cfg = load_experiment(_config(tmp_path, arms=["real"]))
    with pytest.raises(ConfigError, match="unknown joblib backend 'magic'") as info:
        run_experiment(cfg, tmp_path / "r", windows=_windows(), backend="magic")
    assert info.value.field == "backend"
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(
        "experiment", _config(tmp_path), "--out", tmp_path / "c", "--backend", "magic"
    )
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown joblib backend 'magic'" in err
    assert not (tmp_path / "c").exists()


def test_missing_cluster_package_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    cfg = load_experiment(_config(tmp_path, arms=["real"]))
    with pytest.raises(ConfigError, match=r"pip install imusynth\[cluster\]"):
        run_experiment(cfg, tmp_path / "r", windows=_windows(), backend="dask")
    assert not (tmp_path / "r").exists()

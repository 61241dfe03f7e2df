"""Shared fixtures: small, deterministic data and helpers to run the CLI in-process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def load_benchmark(name: str) -> ModuleType:
    """A script of ``benchmarks/`` imported as a module (scripts import their siblings, so
    that folder is on ``sys.path`` while it loads)."""
    folder = str(ROOT / "benchmarks")
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


# The smallest window-GAN networks, for `--set` / `load_config` overrides in tests.
TINY_MODEL = [
    "model.g_width=32",
    "model.g_blocks=2",
    "model.d_width=8",
    "model.d_blocks=2",
    "model.latent_dim=8",
    "model.embed_dim=8",
]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests use small tensors, where a second intra-op thread only adds spin-wait overhead
    (measured 5-20x slower on a busy 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def run_cli(capsys):
    """Run ``imusynth ARGS`` in-process; return (exit code, stdout, stderr)."""
    from imusynth.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits on bad usage
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def tiny_window_set(shift: float = 0.0):
    """A small WindowSet: 3 subjects x 2 classes x 4 windows, 6 channels x 32 samples,
    both arm sides; ``shift`` is added to every value (a second, different data set)."""
    from imusynth.data import WindowSet

    g = np.random.default_rng(1)
    n = 24
    y = np.tile(np.repeat([0, 1], 4), 3)
    X = g.normal(size=(n, 6, 32)).astype(np.float32) + y[:, None, None] + np.float32(shift)
    return WindowSet(
        X=X,
        y=y,
        groups=np.repeat(["1", "2", "3"], 8),
        classes=("ABD", "FEL"),
        channels=("ax", "ay", "az", "wx", "wy", "wz"),
        units=("g", "g", "g", "rad/s", "rad/s", "rad/s"),
        sampling_rate_hz=50.0,
        recording=np.repeat(np.arange(6), 4),
        side=np.repeat(["right", "left"], 12),
        source="test",
    )


@pytest.fixture
def tiny_windows():
    """A small WindowSet: 3 subjects x 2 classes x 4 windows, 6 channels x 32 samples."""
    return tiny_window_set()

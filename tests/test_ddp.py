"""Data-parallel training: 2 Gloo processes on the CPU train the same GAN as 1 process with
the same global batch; checkpoints resume across numbers of processes; errors reach every
process; ``torchrun -m imusynth train`` works end to end."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from imusynth.errors import CheckpointError
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.config import TrainConfig
from imusynth.train.loop import CHECKPOINT_NAME, epoch_loader, fit_gan

from .conftest import tiny_window_set

WORLD = 2
BATCH = 8  # global: 4 windows per process
# What differs between the cases: the losses and penalties, the noise, the kind of loader.
CASES = {
    "hinge-noise-shift-r1": dict(instance_noise=0.2, augment_shift=0.25, r1_weight=0.5),
    "wgan-gp-2-critic": dict(loss="wgan-gp", n_critic=2, augment_shift=0.1),
    "bce-dataloader": dict(loss="bce", instance_noise=0.1),
}
# In float64 the two runs differ by rounding only (measured: below 1e-14). In float32 a few
# weights whose gradients are near zero differ by up to ~5e-5 after 4 steps: Adam divides by
# the root of the squared gradient, which magnifies the rounding of 2 half-batch means
# against 1 batch mean. So the equality tests run in float64.
TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module", autouse=True)
def _float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _data(n=40):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    return torch.randn(n, 3, 32, generator=g) * 0.5 + y[:, None, None].float(), y


def _models(seed=0, ac=False):
    torch.manual_seed(seed)
    g = Conv1dGenerator(3, 32, 2, latent_dim=8, embed_dim=8, width=32, n_blocks=2)
    # The minibatch standard deviation sees a process's slice only: off for exact equality.
    d = ProjectionDiscriminator1d(3, 2, width=8, n_blocks=2, minibatch_std=False, ac_head=ac)
    return g, d


def _loader(case: str):
    X, y = _data()
    if case.endswith("dataloader"):  # global batches, sliced by the loop
        data = torch.utils.data.TensorDataset(X, y)
        gen = torch.Generator().manual_seed(1)
        return torch.utils.data.DataLoader(
            data, batch_size=BATCH, shuffle=True, drop_last=True, generator=gen
        )
    return epoch_loader(X, y, batch_size=BATCH, seed=1)  # under DDP: each process's slice


def _config(case: str, steps: int = 4, **more) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=BATCH, log_every=2, **(CASES[case] | more))


TINY_CLI = [
    "--device", "cpu", "-q",
    "--set", "train.batch_size=8", "--set", "train.checkpoint_every=0",
    "--set", "model.g_width=32", "--set", "model.d_width=8",
    "--set", "model.minibatch_std=false",
]  # fmt: skip


def _windows_file(path: Path) -> Path:
    """Tiny watch-like windows (24 of 6 x 32, 2 classes, both sides) in an HDF5 file."""
    from imusynth.data import write_windows

    return write_windows(path, tiny_window_set())


def _worker(rank: int, tmp: str, store: str) -> None:
    """One of the WORLD processes: runs every case, rank 0 saves what the parent checks."""
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        tmp_path = Path(tmp)
        out = {}
        for case in CASES:
            ac = case.startswith("bce")
            state = fit_gan(*_models(ac=ac), _loader(case), _config(case))
            out[case] = {k: v.clone() for k, v in state.generator.state_dict().items()}
            out[case + ".history"] = state.history
        # A run that writes a checkpoint after 3 of 6 steps; only rank 0 gets the folder.
        case = "hinge-noise-shift-r1"
        cfg = _config(case, steps=3, instance_noise=0.0)
        fit_gan(*_models(), _loader(case), cfg, out_dir=tmp_path / "ddp" if rank == 0 else None)
        # Resume, in 2 processes, a checkpoint written by 1. Rank 0's folder and choice count
        # (as in imusynth.gan2d, which resumes where it sees a checkpoint).
        cfg = _config(case, steps=6, instance_noise=0.0)
        mine = dict(out_dir=tmp_path / "one", resume=True) if rank == 0 else {}
        state = fit_gan(*_models(seed=5), _loader(case), cfg, **mine)
        out["resumed"] = {k: v.clone() for k, v in state.generator.state_dict().items()}
        # A user error on rank 0 (a corrupt checkpoint) is raised on every process.
        if rank == 0:
            (tmp_path / "bad").mkdir()
            (tmp_path / "bad" / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
        try:
            fit_gan(*_models(), _loader(case), cfg, out_dir=tmp_path / "bad", resume=True)
        except CheckpointError as exc:
            out["error"] = str(exc)
        # The train command in the process group (as under torchrun): rank 0 writes the folder.
        from imusynth.cli import main

        torch.set_default_dtype(torch.float32)
        args = ["train", "--data", str(tmp_path / "w.h5"), "--out", str(tmp_path / "cli")]
        assert main([*args, "--set", "train.steps=2", *TINY_CLI]) == 0
        assert dist.is_initialized()  # the command leaves a group it did not set up alone
        if rank == 0:
            torch.save(out, tmp_path / "rank0.pt")
        else:
            assert "corrupt" in out["error"], out.get("error")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    """Spawn the 2 Gloo processes once for the tests below (about 5 s)."""
    tmp = tmp_path_factory.mktemp("ddp")
    # A 1-process checkpoint after 3 steps, for the 2 processes to resume.
    case = "hinge-noise-shift-r1"
    fit_gan(*_models(), _loader(case), _config(case, 3, instance_noise=0.0), out_dir=tmp / "one")
    _windows_file(tmp / "w.h5")
    mp.spawn(_worker, args=(str(tmp), str(tmp / "store")), nprocs=WORLD, join=True)
    return tmp, torch.load(tmp / "rank0.pt", weights_only=False)


def _assert_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], **TOL, msg=key)


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_train_the_same_generator_as_one(two_process_runs, case):
    _, out = two_process_runs
    ac = case.startswith("bce")
    single = fit_gan(*_models(ac=ac), _loader(case), _config(case))
    _assert_close(out[case], single.generator.state_dict())
    # The metrics are the global batch's, averaged over the processes.
    for row_ddp, row_one in zip(out[case + ".history"], single.history, strict=True):
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty"):
            assert row_ddp[key] == pytest.approx(row_one[key], rel=1e-4, abs=1e-6), key


def test_a_two_process_checkpoint_resumes_in_one_process(two_process_runs):
    tmp, _ = two_process_runs
    run = tmp / "ddp"
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 3
    assert (run / "metrics.csv").read_text().count("\n") == 3  # header, steps 2 and 3, once
    case = "hinge-noise-shift-r1"
    cfg = _config(case, steps=6, instance_noise=0.0)
    resumed = fit_gan(*_models(seed=5), _loader(case), cfg, out_dir=run, resume=True)
    straight = fit_gan(*_models(), _loader(case), cfg)
    _assert_close(resumed.generator.state_dict(), straight.generator.state_dict())
    _assert_close(resumed.ema.state_dict(), straight.ema.state_dict())


def test_a_one_process_checkpoint_resumes_in_two(two_process_runs):
    _, out = two_process_runs
    case = "hinge-noise-shift-r1"
    straight = fit_gan(*_models(), _loader(case), _config(case, steps=6, instance_noise=0.0))
    _assert_close(out["resumed"], straight.generator.state_dict())


def test_a_user_error_on_rank_0_reaches_every_process(two_process_runs):
    _, out = two_process_runs
    assert "corrupt" in out["error"] and "bad" in out["error"]


def test_the_train_command_in_two_processes_writes_one_run_that_resumes_in_one(
    two_process_runs, run_cli
):
    tmp, _ = two_process_runs
    run = tmp / "cli"
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 2
    assert {"config.toml", "run.json", "metrics.csv", "checkpoint.pt"} <= {
        p.name for p in run.iterdir()
    }
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporary files left
    torch.set_default_dtype(torch.float32)
    try:
        args = ["train", "--data", tmp / "w.h5", "--out", run, "--resume"]
        code, _, err = run_cli(*args, "--set", "train.steps=3", *TINY_CLI)
    finally:
        torch.set_default_dtype(torch.float64)
    assert code == 0, err
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 3


@pytest.mark.slow
def test_torchrun_trains_one_gan_from_the_command_line(tmp_path):
    """``torchrun --standalone --nproc_per_node=2 -m imusynth train`` (about 15 s: three
    interpreters start), then ``python -m imusynth train --resume`` in one process."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    tiny = ["--data", str(_windows_file(tmp_path / "w.h5")), *TINY_CLI]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "imusynth", "train"]
    cmd += ["--out", str(run), "--set", "train.steps=2", *tiny]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 2
    assert {"config.toml", "run.json", "metrics.csv"} <= {p.name for p in run.iterdir()}
    cmd = [sys.executable, "-m", "imusynth", "train", "--out", str(run), "--resume"]
    cmd += ["--set", "train.steps=3", *tiny]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 3

"""How the default watch GAN's training scales from 1 to N data-parallel CPU processes.

For each number of processes (Gloo, one CPU thread each by default) at the same *global*
batch (the config's, 64), prints the training steps/s of ``fit_gan`` and of a bare PyTorch
DDP loop with the same models, loss, optimiser and batches (the textbook loop of
pytorch/examples, as in benchmarks/gan_training.py), run alternately in the same processes,
their ratio, and the scaling efficiency ``rate(N) / (N * rate(1))``. It also prints the CPU
time per step of the busiest process: on a machine shared with other jobs (where N
processes do not get N cores) ``cpu(1) / cpu(N)`` estimates the speed-up on dedicated
cores better than the wall-clock rates do.

Usage::

    python benchmarks/ddp_scaling.py [--procs 1,2] [--steps 30] [--repeats 3] [--threads 1]
        [--generator kinematic|conv1d]

Each process uses ``--threads`` torch threads; on a machine with C cores, N processes x T
threads should not exceed C. On a machine shared with other jobs the figures are noisy: say
so when reporting them, with the load average.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

from imusynth.data import load_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.gan import SIDES
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.config import apply_overrides, load_config
from imusynth.train.loop import epoch_loader, fit_gan
from imusynth.train.losses import ADVERSARIAL_LOSSES


def bare_loop(G, D, loader, cfg, steps: int, world: int) -> float:
    """The textbook DDP loop: no EMA, no logging, no checks, no global noise (each process
    draws noise for its own slice); the G step goes through DDP(D) as in pytorch/examples."""
    if world > 1:
        G, D = DDP(G), DDP(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    d_loss, g_loss = ADVERSARIAL_LOSSES[cfg.loss]
    latent = (G.module if world > 1 else G).latent_dim
    gen = torch.Generator().manual_seed(0)
    epoch, done = 0, 0
    _sync(world)
    start = time.perf_counter()
    while done < steps:
        for x, y, side in loader(epoch):
            z = torch.randn(x.shape[0], latent, generator=gen)
            with torch.no_grad():
                fake = G(z, y, side)
            loss = d_loss(D(x, y, side), D(fake, y, side))
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            z = torch.randn(x.shape[0], latent, generator=gen)
            loss = g_loss(D(G(z, y, side), y, side))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            done += 1
            if done == steps:
                break
        epoch += 1
    _sync(world)
    return steps / (time.perf_counter() - start)


def fit_gan_rate(G, D, loader, cfg, steps: int, world: int) -> tuple[float, float]:
    """Steps/s, and CPU milliseconds per step of the busiest process."""
    train = apply_overrides(cfg, [f"train.steps={steps}", f"train.log_every={steps}"])
    _sync(world)
    start, cpu = time.perf_counter(), time.process_time()
    fit_gan(G, D, loader, train, device="cpu")
    cpu_ms = torch.tensor([1e3 * (time.process_time() - cpu) / steps])
    _sync(world)
    rate = steps / (time.perf_counter() - start)
    if world > 1:
        dist.all_reduce(cpu_ms, op=dist.ReduceOp.MAX)
    return rate, float(cpu_ms)


def _sync(world: int) -> None:
    if world > 1:
        dist.barrier()


def _worker(rank: int, world: int, args: argparse.Namespace, store: str, out: str) -> None:
    torch.set_num_threads(args.threads)
    if world > 1:
        dist.init_process_group(
            "gloo",
            init_method=f"file://{store}",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(minutes=10),
        )
    try:
        cfg = apply_overrides(load_config(args.config), [f"model.generator={args.generator}"])
        ws = load_windows(cfg.data.spec)
        norm = ChannelNormalizer().fit(ws.X)
        Z, y, side = norm.transform(ws.X), ws.y, np.searchsorted(SIDES, ws.side)
        kw = dict(channel_mean=norm.mean_, channel_scale=norm.scale_, seed=0)
        G0 = build_generator(cfg.model, Z.shape[1], Z.shape[2], ws.n_classes, n_sides=2, **kw)
        D0 = build_discriminator(cfg.model, Z.shape[1], ws.n_classes, n_sides=2, seed=0)
        # Under the process group each process gets its slice of every global batch.
        loader = epoch_loader(Z, y, side, batch_size=cfg.train.batch_size, seed=0)
        fit_gan_rate(copy.deepcopy(G0), copy.deepcopy(D0), loader, cfg, 3, world)  # warm-up
        ours, cpu, bare = [], [], []
        for _ in range(args.repeats):
            G, D = copy.deepcopy(G0), copy.deepcopy(D0)
            rate, cpu_ms = fit_gan_rate(G, D, loader, cfg, args.steps, world)
            ours.append(rate)
            cpu.append(cpu_ms)
            G, D = copy.deepcopy(G0), copy.deepcopy(D0)
            bare.append(bare_loop(G, D, loader, cfg.train, args.steps, world))
        if rank == 0:
            result = {
                "ours": statistics.median(ours),
                "bare": statistics.median(bare),
                "cpu_ms": statistics.median(cpu),
                "windows": len(ws),
                "batch": cfg.train.batch_size,
            }
            Path(out).write_text(json.dumps(result))
    finally:
        if world > 1:
            dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="watch_cgan.toml")
    parser.add_argument("--generator", default=None, help="default: the config's")
    parser.add_argument("--procs", default="1,2", help="numbers of processes to compare")
    parser.add_argument("--steps", type=int, default=30, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = parser.parse_args()
    args.generator = args.generator or load_config(args.config).model.generator
    procs = [int(p) for p in args.procs.split(",")]
    print(
        f"{args.generator} generator, global batch {load_config(args.config).train.batch_size}, "
        f"{args.threads} thread(s) per process, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}, {args.steps} steps x {args.repeats} repeats"
    )
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for world in procs:
            store, out = f"{tmp}/store{world}", f"{tmp}/result{world}.json"
            mp.spawn(_worker, args=(world, args, store, out), nprocs=world, join=True)
            r = json.loads(Path(out).read_text())
            rates[world] = r
            base = rates.get(procs[0])
            eff = r["ours"] / (world / procs[0] * base["ours"]) if base else float("nan")
            print(
                f"{world} process(es): fit_gan {r['ours']:6.2f} steps/s | bare DDP loop "
                f"{r['bare']:6.2f} steps/s | ratio {r['ours'] / r['bare']:.2f} | "
                f"speed-up {r['ours'] / base['ours']:.2f}x, scaling efficiency {eff:.0%} | "
                f"CPU {r['cpu_ms']:.0f} ms/step/process, "
                f"CPU-time speed-up {base['cpu_ms'] / r['cpu_ms']:.2f}x"
            )


if __name__ == "__main__":
    main()

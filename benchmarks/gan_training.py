"""How fast the default watch GAN trains and samples on this machine.

Prints, for the default config (experiments/watch_cgan.toml) on the real watch windows:

* training steps/s of ``fit_gan`` and of a bare PyTorch loop with the same models, loss,
  optimiser and batches, run alternately in the same process, and their ratio (the loop's
  overhead: EMA, bookkeeping, checks);
* generated windows/s (EMA generator, batches of 512, back to physical units);
* milliseconds for a forward+backward of ``ArmModel`` on 256 windows of 250 samples;
* the same training figures for the kinematic generator.

Usage::

    python benchmarks/gan_training.py [--steps 40] [--threads N] [--device cpu]

On a machine shared with other jobs, ``--threads 1`` avoids OpenMP threads waiting for each
other (which can slow small convolutions down by 100x); say which you used when reporting.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch

from imusynth.data import load_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.gan import SIDES, GANRun, sample_run
from imusynth.kinematics.arm import ArmModel
from imusynth.models.build import build_discriminator, build_generator
from imusynth.train.config import apply_overrides, load_config
from imusynth.train.device import resolve_device
from imusynth.train.loop import epoch_loader, fit_gan
from imusynth.train.losses import ADVERSARIAL_LOSSES


def bare_loop(G, D, loader, cfg, steps: int, device) -> float:
    """The textbook loop (pytorch/examples DCGAN): no EMA, no logging, no checks."""
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    d_loss, g_loss = ADVERSARIAL_LOSSES[cfg.loss]
    gen = torch.Generator(device=device).manual_seed(0)
    epoch, done = 0, 0
    start = time.perf_counter()
    while done < steps:
        for x, y, side in loader(epoch):
            x, y, side = x.to(device), y.to(device), side.to(device)
            z = torch.randn(x.shape[0], G.latent_dim, generator=gen, device=device)
            with torch.no_grad():
                fake = G(z, y, side)
            loss = d_loss(D(x, y, side), D(fake, y, side))
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            z = torch.randn(x.shape[0], G.latent_dim, generator=gen, device=device)
            loss = g_loss(D(G(z, y, side), y, side))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            done += 1
            if done == steps:
                break
        epoch += 1
    _sync(device)
    return steps / (time.perf_counter() - start)


def fit_gan_rate(G, D, loader, cfg, steps: int, device) -> float:
    train = apply_overrides(cfg, [f"train.steps={steps}", f"train.log_every={steps}"])
    start = time.perf_counter()
    fit_gan(G, D, loader, train, device=device)
    _sync(device)
    return steps / (time.perf_counter() - start)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_rates(cfg, Z, y, side, steps: int, repeats: int, device) -> tuple[float, float]:
    """Median steps/s of fit_gan and of the bare loop, alternated to share machine noise."""
    n_sides = 2
    G0 = build_generator(
        cfg.model, Z.shape[1], Z.shape[2], 7, n_sides=n_sides, seed=0,
        channel_mean=np.zeros(Z.shape[1]), channel_scale=np.ones(Z.shape[1]),
    )  # fmt: skip
    D0 = build_discriminator(cfg.model, Z.shape[1], 7, n_sides=n_sides, seed=0)
    loader = epoch_loader(Z, y, side, batch_size=cfg.train.batch_size, seed=0)
    fit_gan_rate(copy.deepcopy(G0), copy.deepcopy(D0), loader, cfg, 3, device)  # warm-up
    ours, bare = [], []
    for _ in range(repeats):
        ours.append(fit_gan_rate(copy.deepcopy(G0), copy.deepcopy(D0), loader, cfg, steps, device))
        G, D = copy.deepcopy(G0).to(device), copy.deepcopy(D0).to(device)
        bare.append(bare_loop(G, D, loader, cfg.train, steps, device))
    return statistics.median(ours), statistics.median(bare)


def sampling_rate(cfg, Z, norm, device, n: int = 4096) -> float:
    G = build_generator(cfg.model, 6, Z.shape[2], 7, n_sides=2, seed=0).to(device).eval()
    run = GANRun(
        cfg, G, norm, tuple("ABCDEFG"), tuple("abcdef"), ("g",) * 3 + ("rad/s",) * 3, 50.0,
        Z.shape[2], ("left", "right"), np.full((7, 2), 0.5),
    )  # fmt: skip
    sample_run(run, per_class=8, seed=0)  # warm-up
    start = time.perf_counter()
    X, _, _ = sample_run(run, per_class=n // 7, seed=0)
    return len(X) / (time.perf_counter() - start)


def arm_ms(device, repeats: int = 5) -> float:
    arm = ArmModel(side="right").to(device)
    gen = torch.Generator().manual_seed(0)
    q = (0.3 * torch.randn(256, arm.num_joints, 250, generator=gen)).to(device)
    q.requires_grad_(True)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        out = arm(q, 50.0)
        (out.acc.square().mean() + out.gyro.square().mean()).backward()
        _sync(device)
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/watch_cgan.toml")
    parser.add_argument("--steps", type=int, default=40, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cfg = load_config(args.config)
    ws = load_windows(cfg.data.spec)
    norm = ChannelNormalizer().fit(ws.X)
    Z, y, side = norm.transform(ws.X), ws.y, np.searchsorted(SIDES, ws.side)

    print(f"device {device}, torch threads {torch.get_num_threads()}, "
          f"{len(ws)} windows {ws.X.shape[1:]}, batch {cfg.train.batch_size}")  # fmt: skip
    for generator in ("conv1d", "kinematic"):
        c = apply_overrides(cfg, [f"model.generator={generator}"])
        ours, bare = training_rates(c, Z, y, side, args.steps, args.repeats, device)
        print(f"{generator:9s} fit_gan {ours:6.2f} steps/s | bare loop {bare:6.2f} steps/s | "
              f"ratio {ours / bare:.2f}")  # fmt: skip
        print(f"{generator:9s} sampling {sampling_rate(c, Z, norm, device):8.0f} windows/s")
    print(f"ArmModel forward+backward, 256 x 250 samples: {arm_ms(device):.1f} ms")


if __name__ == "__main__":
    main()

"""How fast the default watch GAN trains and samples on this machine.

Prints, for the default config (imusynth/configs/watch_cgan.toml) on the real watch windows:

* training steps/s of ``fit_gan`` and of a bare PyTorch loop with the same models, loss,
  optimiser and batches, run alternately in the same process, and their ratio (the loop's
  overhead: EMA, bookkeeping, checks);
* generated windows/s (EMA generator, batches of 512, back to physical units);
* milliseconds for a forward+backward of ``ArmModel`` on 256 windows of 250 samples;
* the same training figures for the kinematic generator;
* model FLOP utilisation: the FLOPs of one training step (one D step + one G step, counted by
  ``torch.utils.flop_counter.FlopCounterMode``: matmuls and convolutions, forward and
  backward), the achieved FLOP/s at the measured steps/s, and MFU = achieved / peak, where
  the peak is the best of several bare float32 ``torch.mm`` (1024 x 1024) on the same
  device and thread count, measured in the same run. Element-wise work (activations, Adam,
  the arm model's trigonometry) is not counted, so MFU is a lower bound on how busy the
  arithmetic units are; with bf16 the FLOPs are the same and the peak stays float32;
* where those FLOPs go: the forward FLOPs of a batch through the generator and through each
  critic of the discriminator (a training step costs roughly nine forwards of the
  discriminator and four of the generator, backward passes counted as two: 9 x 1.31 + 4 x
  1.44 = 17.5 GFLOP against the 16.9 counted for the default). ``--flops-only`` prints
  these and the step's FLOPs alone, in seconds.

Usage::

    python benchmarks/gan_training.py [--steps 40] [--threads N[,M]] [--device cpu]
        [--precision fp32,bf16] [--compile] [--flops-only] [--set KEY=VALUE ...]

``--set`` overrides a key of the config as ``imusynth train --set`` does (e.g.
``--set model.d_width=16`` to time a narrower critic).

``--precision`` and ``--compile`` set ``train.precision`` and ``train.compile`` for both
loops (the bare loop then runs the same autocast, loss scaling and compiled models), so the
ratio still measures the loop's own overhead. Several precisions (``fp32,bf16``) are timed
alternately in one process, so a shared machine's load changes hit them alike; compare
them only within one run. fp16 needs CUDA. With ``--compile`` the warm-up run compiles (minutes on a
CPU), and the timed runs reuse the compiled code.

On a machine shared with other jobs, ``--threads 1`` avoids OpenMP threads waiting for each
other (which can slow small convolutions down by 100x); say which you used when reporting.
Several counts (``--threads 1,2``; 0 stands for torch's own count) are timed alternately
like several precisions, each training rate labelled with its count (``fp32 2t``: float32,
two threads) and its MFU taken against the matmul peak measured at that count (FLOPs,
sampling and the arm model run at the first count).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import platform
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from imusynth.data import load_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.errors import ImusynthError
from imusynth.gan import SIDES, GANRun, sample_run
from imusynth.kinematics.arm import ArmModel
from imusynth.runtime import resolve_device
from imusynth.train.build import build_discriminator, build_generator
from imusynth.train.config import GANConfig, apply_overrides, load_config, validate_config
from imusynth.train.loop import epoch_loader, fit_gan
from imusynth.train.losses import ADVERSARIAL_LOSSES
from imusynth.train.precision import native_bf16, resolve_precision


def bare_loop(G, D, loader, cfg, steps: int, device) -> float:
    """The textbook loop (pytorch/examples DCGAN): no EMA, no logging, no checks.

    With ``cfg.precision`` bf16 or fp16 the forward passes run under autocast (fp16 with a
    GradScaler per model and fused Adam, as in fit_gan); with ``cfg.compile`` G and D are
    compiled.
    """
    fp16 = cfg.precision == "fp16"
    fused = {"fused": True} if fp16 else {}
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), **fused)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2), **fused)
    d_loss, g_loss = ADVERSARIAL_LOSSES[cfg.loss]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)

    def autocast():
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)
    scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
    if cfg.compile:
        G, D = torch.compile(G), torch.compile(D)
    gen = torch.Generator(device=device).manual_seed(0)
    epoch, done = 0, 0
    start = time.perf_counter()
    while done < steps:
        for x, y, side in loader(epoch):
            x, y, side = x.to(device), y.to(device), side.to(device)
            z = torch.randn(x.shape[0], G.latent_dim, generator=gen, device=device)
            with torch.no_grad(), autocast():
                fake = G(z, y, side).float()
            with autocast():
                real_logits, fake_logits = D(x, y, side), D(fake, y, side)
            loss = d_loss(real_logits.float(), fake_logits.float())
            opt_d.zero_grad(set_to_none=True)
            scaler_d.scale(loss).backward()
            scaler_d.step(opt_d)
            scaler_d.update()
            z = torch.randn(x.shape[0], G.latent_dim, generator=gen, device=device)
            with autocast():
                logits = D(G(z, y, side).float(), y, side)
            loss = g_loss(logits.float())
            opt_g.zero_grad(set_to_none=True)
            scaler_g.scale(loss).backward()
            scaler_g.step(opt_g)
            scaler_g.update()
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


def training_rates(
    cfgs: dict[str, tuple[GANConfig, int]], Z, y, side, steps: int, repeats: int, device
) -> dict[str, tuple[float, float]]:
    """Median steps/s of fit_gan and of the bare loop for each (config, torch thread count)
    (same models, data and batches), all alternated within each repeat to share the
    machine's noise. Leaves torch on the thread count it found."""
    first = next(iter(cfgs.values()))[0]
    G0 = build_generator(
        first.model, Z.shape[1], Z.shape[2], 7, n_sides=2, seed=0,
        channel_mean=np.zeros(Z.shape[1]), channel_scale=np.ones(Z.shape[1]),
    )  # fmt: skip
    D0 = build_discriminator(first.model, Z.shape[1], 7, n_sides=2, seed=0)
    loader = epoch_loader(Z, y, side, batch_size=first.train.batch_size, seed=0)
    ours: dict[str, list[float]] = {name: [] for name in cfgs}
    bare: dict[str, list[float]] = {name: [] for name in cfgs}
    found = torch.get_num_threads()
    for cfg, threads in cfgs.values():  # warm-up (with --compile: the compilation), both loops
        torch.set_num_threads(threads)
        fit_gan_rate(copy.deepcopy(G0), copy.deepcopy(D0), loader, cfg, 3, device)
        G, D = copy.deepcopy(G0).to(device), copy.deepcopy(D0).to(device)
        bare_loop(G, D, loader, cfg.train, 3, device)
    for _ in range(repeats):
        for name, (cfg, threads) in cfgs.items():
            torch.set_num_threads(threads)
            G, D = copy.deepcopy(G0), copy.deepcopy(D0)
            ours[name].append(fit_gan_rate(G, D, loader, cfg, steps, device))
            G, D = copy.deepcopy(G0).to(device), copy.deepcopy(D0).to(device)
            bare[name].append(bare_loop(G, D, loader, cfg.train, steps, device))
    torch.set_num_threads(found)
    return {n: (statistics.median(ours[n]), statistics.median(bare[n])) for n in cfgs}


def step_flops(cfg: GANConfig, Z, y, side, device) -> int:
    """FLOPs of one bare-loop training step (one D step + one G step), float32, not compiled."""
    plain = apply_overrides(cfg, ["train.compile=false", "train.precision=fp32"])
    G = build_generator(
        plain.model, Z.shape[1], Z.shape[2], 7, n_sides=2, seed=0,
        channel_mean=np.zeros(Z.shape[1]), channel_scale=np.ones(Z.shape[1]),
    ).to(device)  # fmt: skip
    D = build_discriminator(plain.model, Z.shape[1], 7, n_sides=2, seed=0).to(device)
    loader = epoch_loader(Z, y, side, batch_size=plain.train.batch_size, seed=0)
    bare_loop(G, D, loader, plain.train, 1, device)  # warm-up: lazy initialisation
    with FlopCounterMode(display=False) as counter:
        bare_loop(G, D, loader, plain.train, 1, device)
    return int(counter.get_total_flops())


def forward_flops(cfg: GANConfig, Z, y, side, device) -> str:
    """Forward FLOPs of one batch through the generator and each critic, as one line."""
    plain = apply_overrides(cfg, ["train.compile=false", "train.precision=fp32"])
    n_ch, length, batch = Z.shape[1], Z.shape[2], plain.train.batch_size
    G = build_generator(
        plain.model, n_ch, length, 7, n_sides=2, seed=0,
        channel_mean=np.zeros(n_ch), channel_scale=np.ones(n_ch),
    ).to(device)  # fmt: skip
    D = build_discriminator(plain.model, n_ch, 7, n_sides=2, seed=0).to(device)
    z = torch.randn(batch, G.latent_dim, device=device)
    codes = torch.as_tensor(y[:batch], device=device)
    sides = torch.as_tensor(side[:batch], device=device)

    def gflop(module, *inputs) -> float:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(*inputs)
        return counter.get_total_flops() / 1e9

    x = G(z, codes, sides).detach()  # (B, C, T)
    parts = [f"G {gflop(G, z, codes, sides):.2f}", f"D {gflop(D, x, codes, sides):.2f}"]
    critics = [getattr(D, "time_critic", D), *getattr(D, "spectral_critics", [])]
    names = []
    for critic in critics:
        if hasattr(critic, "n_fft"):
            label = f"STFT n_fft {critic.n_fft}"
        elif hasattr(critic, "max_lag"):
            label = f"repetition {critic.max_lag} lags"
        else:
            label = "time-domain"
        names.append(f"{label} {gflop(critic, x, codes, sides):.2f}")
    return f"forward GFLOP, batch {batch}: {' | '.join(parts)} ({', '.join(names)})"


def peak_matmul_flops(device, n: int = 1024, repeats: int = 10) -> float:
    """Best FLOP/s of a bare float32 ``torch.mm`` of two n x n matrices (2 n^3 FLOPs)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    torch.mm(a, b)  # warm-up
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best


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


def processor_name(device) -> str:
    """The GPU's name, or the CPU's model name (Linux) and machine type: figures of one
    machine do not carry over to another, so the output says which made them."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
    return platform.processor() or platform.machine()


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
    parser.add_argument("--config", default="watch_cgan.toml")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    parser.add_argument("--steps", type=int, default=40, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        default="0",
        help="torch threads (0: default), or several (1,2) timed alternately",
    )
    parser.add_argument("--device", default="cpu", help="auto, cpu or cuda")
    parser.add_argument(
        "--precision",
        default="fp32",
        help="train.precision: fp32, bf16, fp16 or auto (timed as what it resolves to here), "
        "or several (fp32,bf16) run alternately",
    )
    parser.add_argument("--compile", action="store_true", help="train.compile=true")
    parser.add_argument(
        "--flops-only", action="store_true", help="only the FLOP counts (no timing)"
    )
    args = parser.parse_args()
    try:
        counts = [int(t) for t in args.threads.split(",") if t.strip()] or [0]
    except ValueError:
        parser.error(f"--threads {args.threads!r}: expected a count or counts such as 1,2")
    if any(t < 0 for t in counts):
        parser.error("--threads: counts are 0 (torch's default) or more")
    # 0 is torch's own count, resolved once here, so that every later switch names a count
    thread_counts = list(dict.fromkeys(t or torch.get_num_threads() for t in counts))
    torch.set_num_threads(thread_counts[0])
    device = resolve_device(args.device)
    precisions = [
        resolve_precision(p.strip(), device) for p in args.precision.split(",") if p.strip()
    ]
    if "fp16" in precisions and device.type != "cuda":
        parser.error("fp16 needs --device cuda")
    try:
        cfg = load_config(args.config, [*args.set, f"train.compile={args.compile}"])
    except ImusynthError as exc:
        parser.error(str(exc))
    cfgs = {p: apply_overrides(cfg, [f"train.precision={p}"]) for p in precisions}
    for c in cfgs.values():
        validate_config(c)
    ws = load_windows(cfg.data.spec)
    norm = ChannelNormalizer().fit(ws.X)
    Z, y, side = norm.transform(ws.X), ws.y, np.searchsorted(SIDES, ws.side)

    print(f"device {device}, torch threads {torch.get_num_threads()}, "
          f"{len(ws)} windows {ws.X.shape[1:]}, batch {cfg.train.batch_size}, "
          f"compile {args.compile}")  # fmt: skip
    if args.flops_only:
        for generator in ("conv1d", "kinematic"):
            c = apply_overrides(cfg, [f"model.generator={generator}"])
            flops = step_flops(c, Z, y, side, device)
            print(f"{generator:9s} one training step (D + G): {flops / 1e9:.2f} GFLOP")
            print(f"{generator:9s} {forward_flops(c, Z, y, side, device)}")
        return
    bf16 = native_bf16(device)
    print(f"{processor_name(device)}, native bf16 {bf16}, torch {torch.__version__}")
    several = len(thread_counts) > 1
    peaks = {}
    for t in thread_counts:
        torch.set_num_threads(t)
        peaks[t] = peak_matmul_flops(device)
        at = f", {t} torch thread(s)" if several else ""
        print(f"peak{at}: float32 torch.mm 1024x1024, best of 10: {peaks[t] / 1e9:.1f} GFLOP/s")
    torch.set_num_threads(thread_counts[0])
    for generator in ("conv1d", "kinematic"):
        over = [f"model.generator={generator}"]
        runs = {
            (f"{p} {t}t" if several else p): (apply_overrides(c, over), t)
            for p, c in cfgs.items()
            for t in thread_counts
        }
        rates = training_rates(runs, Z, y, side, args.steps, args.repeats, device)
        base = apply_overrides(cfg, over)
        flops = step_flops(base, Z, y, side, device)
        print(f"{generator:9s} one training step (D + G): {flops / 1e9:.2f} GFLOP")
        print(f"{generator:9s} {forward_flops(base, Z, y, side, device)}")
        for p, (ours, bare) in rates.items():
            peak = peaks[runs[p][1]]
            print(f"{generator:9s} {p} fit_gan {ours:6.2f} steps/s | bare loop {bare:6.2f} "
                  f"steps/s | ratio {ours / bare:.2f}")  # fmt: skip
            print(f"{generator:9s} {p} achieved: fit_gan {ours * flops / 1e9:7.2f} GFLOP/s, "
                  f"MFU {ours * flops / peak:6.1%} | bare loop {bare * flops / 1e9:7.2f} "
                  f"GFLOP/s, MFU {bare * flops / peak:6.1%}")  # fmt: skip
        rate = sampling_rate(base, Z, norm, device)  # the EMA generator, float32
        print(f"{generator:9s} sampling {rate:8.0f} windows/s")
    print(f"ArmModel forward+backward, 256 x 250 samples: {arm_ms(device):.1f} ms")


if __name__ == "__main__":
    main()

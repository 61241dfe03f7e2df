"""Time ArmModel forward + backward on a batch of watch windows (256 x 250 samples, float32).

Baseline beside it: a 3-layer 1D conv net of the size a GAN discriminator uses on the same
batch (what one discriminator step costs), so the cost of the kinematic layer can be judged.

    python benchmarks/arm_model.py                 # CPU, torch's default threads
    python benchmarks/arm_model.py --device cuda --batch 256 --length 250
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from imusynth.kinematics import ArmModel


def _time(fn, device: torch.device, repeats: int) -> list[float]:
    fn()  # warm-up (kernel selection, caches)
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--length", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)

    model = ArmModel().to(device=device, dtype=dtype)
    q = (0.5 * torch.randn(args.batch, model.num_joints, args.length, generator=gen)).to(
        device=device, dtype=dtype
    )
    q.requires_grad_(True)
    mount = torch.zeros(args.batch, 3, device=device, dtype=dtype, requires_grad=True)

    def arm_forward():
        with torch.no_grad():
            model(q, 50.0, mount=mount)

    def arm_step():
        out = model(q, 50.0, mount=mount)
        (out.acc.square().mean() + out.gyro.square().mean()).backward()

    conv = nn.Sequential(
        nn.Conv1d(6, 64, 5, stride=2, padding=2),
        nn.LeakyReLU(0.2),
        nn.Conv1d(64, 128, 5, stride=2, padding=2),
        nn.LeakyReLU(0.2),
        nn.Conv1d(128, 256, 5, stride=2, padding=2),
        nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(256, 1),
    ).to(device=device, dtype=dtype)
    x = torch.randn(args.batch, 6, args.length, generator=gen).to(device=device, dtype=dtype)

    def conv_step():
        conv(x).mean().backward()

    print(
        f"device {device}, {args.dtype}, batch {args.batch} x {args.length} samples, "
        f"{torch.get_num_threads()} CPU threads"
    )
    for name, fn in (
        ("ArmModel forward", arm_forward),
        ("ArmModel forward+backward", arm_step),
        ("baseline: 3-layer conv1d discriminator forward+backward", conv_step),
    ):
        ms = _time(fn, device, args.repeats)
        print(f"{name:58s} median {statistics.median(ms):8.2f} ms  (min {min(ms):.2f})")


if __name__ == "__main__":
    main()

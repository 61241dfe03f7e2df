"""Where the kinematic generator's time asymmetry comes from: the repeating (harmonic) part of
its joint paths, or the free part its joint head makes.

For each run (a kinematic generator with ``joint_harmonics``), 200 windows per class from the
same latents, turned into accelerations and rates by the arm with the generator's own mount,
without residual or sensor noise, three ways: the joint paths as generated, their harmonic
part alone (the free part held at its mean over the window) and their free part alone.
Per channel: the mean over classes of the absolute class median of the skewness of the
movement's 60 ms increments (``window_statistics.increment_skew``), beside the real windows'
(subjects 1-8). A movement that looks the same played backwards scores near 0.

With ``--per-window``, per class and channel the windows' own skewness, for the real windows
and for windows sampled from each run as they are (with residual and noise): its median, the
median of its absolute value and the share of windows where it is positive. Real windows are
each skewed one way or the other; a class whose windows all lean one way has a direction of
time a judge can read.

    python benchmarks/asymmetry_source.py RUN [RUN ...] [--per-window]
"""

import argparse

import numpy as np
import torch
from gan_fidelity_watch import TRAIN_SUBJECTS
from window_statistics import class_asymmetry, increment_skew

from imusynth.data import load_windows
from imusynth.gan import load_run, sample


def parts(run, n: int, seed: int) -> dict[str, np.ndarray]:
    """Physical-unit windows of the whole joint paths, their harmonic and their free part."""
    G = run.generator.eval()
    if getattr(G, "harmonic_head", None) is None:
        raise SystemExit(f"{type(G).__name__} has no harmonic part (model.joint_harmonics)")
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(len(run.classes)).repeat_interleave(n)
    z = torch.randn(len(y), G.latent_dim, generator=gen)
    side = torch.randint(0, 2, (len(y),), generator=gen) if run.sides else None
    with torch.no_grad():
        h = G.trunk(z[:, : G.trunk_z_dim], y, side).float()
        free, periodic = G.joint_head(h), G._repetition(h)
        mount = G.mount_max * torch.tanh(G.mount_head(h.mean(dim=-1)))
        paths = {
            "as generated": G._joint_angles(free, periodic),
            "harmonic part only": G._joint_angles(
                free.mean(-1, keepdim=True).expand_as(free), periodic
            ),
            "free part only": G._joint_angles(free, None),
        }
        return {name: G._imu(q, mount, side).numpy() for name, q in paths.items()} | {
            "labels": y.numpy()
        }


def per_window(name: str, X: np.ndarray, y: np.ndarray, fs: float, classes) -> None:
    """Per class and channel: median skewness / median |skewness| / share positive."""
    skew = increment_skew(X, fs)
    print(f"{name}: per class and channel, median / median |.| / share > 0 of the window skewness")
    for c, cls in enumerate(classes):
        mid, size, up = (np.median(skew[y == c], 0), np.median(np.abs(skew[y == c]), 0),
                         (skew[y == c] > 0).mean(0))  # fmt: skip
        cells = (f"{m:+5.2f}/{a:4.2f}/{p:3.1f}" for m, a, p in zip(mid, size, up, strict=True))
        print(f"  {cls:6s}", " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--per-window", action="store_true", help="also the windows' own skew")
    args = parser.parse_args()
    ws = load_windows("watch.toml")
    real = ws.subset(np.isin(ws.groups, sorted(TRAIN_SUBJECTS)))
    fs, k = real.sampling_rate_hz, real.n_classes
    print("time asymmetry: mean over classes of |median skewness of 60 ms movement increments|")
    print(f"{'':40s}", " ".join(f"{c:>6s}" for c in real.channels))
    row = class_asymmetry(real.X, real.y, fs, k)
    print(f"{'real (subjects 1-8)':40s}", " ".join(f"{v:6.2f}" for v in row))
    for name in args.runs:
        run = load_run(name, device="cpu")
        out = parts(run, args.per_class, seed=0)
        y = out.pop("labels")
        print(name)
        for part, X in out.items():
            row = class_asymmetry(X, y, fs, k)
            print(f"  {part:38s}", " ".join(f"{v:6.2f}" for v in row))
    if args.per_window:
        per_window("real (subjects 1-8)", real.X, real.y, fs, real.classes)
        counts = np.bincount(real.y, minlength=k)
        for name in args.runs:
            n = {c: int(m) for c, m in zip(real.classes, counts, strict=True)}
            synth = sample(load_run(name, device="cpu"), per_class=n, seed=0)
            per_window(name, synth.X, synth.y, fs, real.classes)


if __name__ == "__main__":
    main()

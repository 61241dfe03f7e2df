"""How many synthetic windows go beyond what the real ones reach: the share of windows whose
peak acceleration exceeds 3 g or whose peak angular rate exceeds 12 rad/s, per class, for the
real watch windows and for run folders given on the command line.

    python benchmarks/extreme_windows.py RUN [RUN ...] [--parts]

``--parts`` (kinematic runs with band-shaped sensor noise): the share for one set of draws
of the generator, with and without its band-noise branch, to tell whether the wild windows
come from the arm's motion or from the noise added to it; ``--clip-levels SD`` also clips
that draw's noise-level latents (the per-window band gains) at +-SD standard deviations.
"""

import argparse

import numpy as np
import torch

from imusynth.data import load_windows
from imusynth.gan import load_run, sample


def shares(X: np.ndarray, y: np.ndarray, classes) -> tuple[float, dict]:
    acc = np.abs(X[:, :3]).max(axis=(1, 2))
    gyr = np.abs(X[:, 3:]).max(axis=(1, 2))
    wild = (acc > 3) | (gyr > 12)
    per = {c: round(float(np.mean(wild[y == i])), 3) for i, c in enumerate(classes)}
    return round(float(np.mean(wild)), 3), per


def with_and_without_band_noise(
    run, n: int, seed: int, clip_levels: float = 0.0
) -> tuple[np.ndarray, ...]:
    """``n`` windows per class drawn from the generator, with and without its band noise (the
    same draws), in the data's units, and their labels."""
    G = run.generator
    if not getattr(G, "noise_bands", 0):
        raise SystemExit(f"{type(G).__name__} has no band-shaped sensor noise to leave out")
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(len(run.classes)).repeat_interleave(n)
    z = torch.randn(len(y), G.latent_dim, generator=gen)
    if clip_levels > 0:  # the latents after the trunk's and the white noise's: band gains
        first, end = G.trunk_z_dim + G.n_channels * run.length, G.noise_z_end
        z[:, first:end] = z[:, first:end].clamp(-clip_levels, clip_levels)
    side = torch.randint(0, 2, (len(y),), generator=gen) if run.sides else None
    with torch.no_grad():
        x = G(z, y, side)
        h = G.trunk(z[:, : G.trunk_z_dim], y, side).float()
        kin = x - G._band_noise(z[:, G.trunk_z_dim : G.noise_z_end], h)
    back = run.normalizer.inverse_transform
    return back(x.numpy()), back(kin.numpy()), y.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--parts", action="store_true", help="also without the band noise")
    parser.add_argument("--clip-levels", type=float, default=0.0, metavar="SD")
    args = parser.parse_args()
    ws = load_windows("watch.toml")
    what = "share of windows with |a|>3 g or |w|>12 rad/s:"
    print("real", what, *shares(ws.X, ws.y, ws.classes))
    for name in args.runs:
        run = load_run(name, device="cpu")
        fake = sample(run, 200, seed=0)
        print(name, what, *shares(fake.X, fake.y, ws.classes))
        if args.parts:
            X, K, y = with_and_without_band_noise(run, 200, 0, args.clip_levels)
            print(f"{name} (one draw) with its band noise", what, *shares(X, y, ws.classes))
            print(f"{name} (same draw) without it", what, *shares(K, y, ws.classes))


if __name__ == "__main__":
    main()

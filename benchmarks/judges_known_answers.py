"""Known answers of the judges of synthetic windows on the real watch data.

A judge that cannot fail is no judge. On the Burns et al. 2018 watch windows (10 subjects,
seglearn) this prints:

* the **floor** of the subject-held-out discriminative score: real vs real windows of
  disjoint subjects (what a perfect generator would score; near 0);
* the held-out score of **matched-moment Gaussian noise** (every channel's mean and standard
  deviation of the real windows, white in time; near 0.5);
* the old **random-split** discriminative score of real vs real windows of two disjoint
  groups of subjects: windows of one subject land on both sides of its split, so the
  forest recognises subjects and calls two real samples different (far from 0);
* Fréchet distance and MMD of held-out real subjects and of the noise, on raw flattened
  (channel-normalised) windows and on the window-feature embedding fit on the first half of
  the subjects (:class:`~imusynth.metrics.embedding.WindowEmbedding`);
* with ``--gru``, TimeGAN's post-hoc GRU discriminative score (split by window, as published)
  of the same real vs real pair and of the noise (slow: minutes per score on a CPU).

Usage::

    python benchmarks/judges_known_answers.py --repeats 5 [--cnn] [--gru]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from imusynth.data import load_windows
from imusynth.data.normalize import ChannelNormalizer
from imusynth.metrics import (
    discriminative_score,
    frechet_distance,
    heldout_discriminative_floor,
    heldout_discriminative_score,
    mmd_rbf,
    timegan_discriminative_score,
)
from imusynth.metrics.embedding import WindowEmbedding, embedded_frechet, embedded_mmd


def matched_noise(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise with each channel's mean and standard deviation of ``X``."""
    mu = X.mean(axis=(0, 2), keepdims=True)
    sd = X.std(axis=(0, 2), keepdims=True)
    return (mu + sd * rng.normal(size=X.shape)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="watch.toml")
    parser.add_argument("--repeats", type=int, default=5, help="subject splits per score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn", action="store_true", help="also the held-out CNN judge")
    parser.add_argument("--gru", action="store_true", help="also TimeGAN's GRU judge (slow)")
    parser.add_argument("--gru-iterations", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ws = load_windows(args.spec)
    X, g, y = ws.X, ws.groups, ws.y
    rng = np.random.default_rng(args.seed)
    noise = matched_noise(X, rng)
    print(f"python {' '.join(sys.argv)}")
    print(f"{len(X)} windows {X.shape[1:]}, {len(np.unique(g))} subjects, {args.repeats} splits")
    print("0 = indistinguishable, 0.5 = always told apart\n")

    judges = ["features"] + (["cnn"] if args.cnn else [])
    for judge in judges:
        start = time.perf_counter()
        kw = {"classifier": judge, "n_repeats": args.repeats, "seed": args.seed}
        floor = heldout_discriminative_floor(X, g, y=y, device=args.device, **kw)
        fake = heldout_discriminative_score(X, g, noise, device=args.device, **kw)
        took = time.perf_counter() - start
        print(f"held-out {floor.protocol.split(', ')[-1]} ({took:.0f}s)")
        print(f"  real vs real, disjoint subjects (floor)  {floor}   {_vals(floor.values)}")
        print(f"  matched-moment noise vs real             {fake}   {_vals(fake.values)}")

    # The old protocol on two disjoint halves of the subjects, over several halvings.
    subjects = np.unique(g)
    old, halves = [], []
    for r in range(args.repeats):
        perm = rng.permutation(subjects)
        a = np.isin(g, perm[: len(perm) // 2])
        halves.append(a)
        old.append(discriminative_score(X[a], X[~a], classifier="features", seed=args.seed + r))
    print("random split (discriminative_score), forest on window features")
    mean, sd = np.mean(old), np.std(old, ddof=1)
    print(f"  real vs real, disjoint subject halves    {mean:.2f} ± {sd:.2f}   {_vals(old)}")

    # Distances: fit on the first half of the subjects, compare the other half and the noise.
    a = halves[0]
    norm = ChannelNormalizer().fit(X[a])
    flat = {k: norm.transform(v).reshape(len(v), -1) for k, v in (("fit", X[a]), ("held", X[~a]))}
    flat["noise"] = norm.transform(noise[~a]).reshape(int((~a).sum()), -1)
    emb = WindowEmbedding().fit(X[a])
    print("distances to the real windows of the first subject half (lower = closer)")
    for name, other, raw in (("held-out real", X[~a], "held"), ("noise", noise[~a], "noise")):
        print(
            f"  {name:<14} raw windows: Fréchet {frechet_distance(flat['fit'], flat[raw]):.4g}, "
            f"MMD {mmd_rbf(flat['fit'], flat[raw], seed=args.seed):.4g};  "
            f"embedding: Fréchet {embedded_frechet(X[a], other, emb):.4g}, "
            f"MMD {embedded_mmd(X[a], other, emb, seed=args.seed):.4g}"
        )

    if args.gru:
        start = time.perf_counter()
        kw = {"iterations": args.gru_iterations, "seed": args.seed, "device": args.device}
        rr = timegan_discriminative_score(X[halves[0]], X[~halves[0]], **kw)
        nz = timegan_discriminative_score(X, noise, **kw)
        took = time.perf_counter() - start
        print(f"TimeGAN post-hoc GRU, windows split at random ({took:.0f}s)")
        print(f"  real vs real, disjoint subject halves    {rr}")
        print(f"  matched-moment noise vs real             {nz}")


def _vals(values) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


if __name__ == "__main__":
    main()

"""Would the watch GAN's windows pass the judges if their fast content were real?

A diagnostic for trained runs of `gan_fidelity_watch.py` (same split, same judges, same
classifiers): each run's synthetic windows are judged as sampled, then again with everything
above ``--cutoff`` Hz replaced by the fast content of a real training window of the same class
(drawn at random among subjects 1-8; subjects 9-10 stay test data only). If the swapped
windows pass where the sampled ones fail, the giveaway is the generator's fast content (its
band noise); if not, it is the movement below the cutoff.

    python benchmarks/fast_content_swap.py runs/def/kinematic-seed0 --threads 1 \
        --out runs/swap_def0.md
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from extreme_windows import shares
from gan_fidelity_watch import (
    SHORT,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    classifiers,
    judged,
    judges,
    usefulness,
)
from scipy import signal

from imusynth.data import WindowSet, load_windows
from imusynth.gan import load_run, sample_windows
from imusynth.metrics.judges import JUDGE_CNN_EPOCHS


def split_bands(X: np.ndarray, fs: float, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """``(slow, fast)`` parts of windows ``(N, C, T)``: a zero-phase 4th-order Butterworth
    low-pass at ``cutoff`` Hz and what it leaves."""
    sos = signal.butter(4, cutoff, btype="low", fs=fs, output="sos")
    slow = signal.sosfiltfilt(sos, X, axis=-1)
    return slow, X - slow


def swap_fast(synth: WindowSet, real: WindowSet, cutoff: float, seed: int) -> WindowSet:
    """``synth`` with its content above ``cutoff`` Hz replaced by that of random real windows
    of the same class."""
    fs = float(real.sampling_rate_hz)
    slow, _ = split_bands(synth.X.astype(np.float64), fs, cutoff)
    _, fast_real = split_bands(real.X.astype(np.float64), fs, cutoff)
    rng = np.random.default_rng(seed)
    donor = np.empty(len(synth), dtype=np.int64)
    for c in np.unique(synth.y):
        pool = np.flatnonzero(real.y == c)
        mine = np.flatnonzero(synth.y == c)
        donor[mine] = rng.choice(pool, size=len(mine), replace=True)
    return dataclasses.replace(synth, X=(slow + fast_real[donor]).astype(synth.X.dtype))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="trained run folders")
    parser.add_argument("--cutoff", type=float, default=6.0, help="Hz (default 6)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="sampling and donor seed")
    parser.add_argument("--cnn-epochs", type=int, default=40)
    parser.add_argument("--judge-cnn-epochs", type=int, default=JUDGE_CNN_EPOCHS)
    parser.add_argument("--judge-repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ws = load_windows("watch.toml")
    train = ws.subset(np.isin(ws.groups, sorted(TRAIN_SUBJECTS)))
    test = ws.subset(np.isin(ws.groups, sorted(TEST_SUBJECTS)))
    makers = classifiers("cpu", args.cnn_epochs)
    real_models = {
        n: make().fit(train.X, train.y, groups=train.groups) for n, make in makers.items()
    }
    judge_kinds = judges("cpu", args.judge_cnn_epochs)
    kw = {"n_repeats": args.judge_repeats, "seed": 0, "device": "cpu"}
    head = ["run", "windows", "judge forest", "judge CNN", "extreme"]
    head += [f"{SHORT[n]} TSTR/TRTR" for n in makers] + [f"{SHORT[n]} TRTS" for n in makers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path in args.runs:
        run = load_run(path, device="cpu")
        synth = sample_windows(run, train.class_counts(), seed=args.seed)
        for kind, windows in (
            ("as sampled", synth),
            (
                f"above {args.cutoff:g} Hz from real",
                swap_fast(synth, train, args.cutoff, args.seed),
            ),
        ):
            start = time.perf_counter()
            cells = [str(path), kind]
            cells += [str(score) for score in judged(judge_kinds, train, windows, kw).values()]
            cells.append(f"{shares(windows.X, windows.y, ws.classes)[0]:.1%}")
            ratios, trts = [], []
            for name, make in makers.items():
                rep = usefulness(make, real_models[name], train, windows, test)
                ratios.append(f"{rep['tstr']['accuracy'] / rep['trtr']['accuracy']:.2f}")
                trts.append(f"{rep['trts']['accuracy']:.2f}")
            lines.append("| " + " | ".join(cells + ratios + trts) + " |")
            print(lines[-1], f"({time.perf_counter() - start:.0f}s)", flush=True)
    text = "\n".join([f"Reproduce: `python {' '.join(sys.argv)}`", "", *lines, ""])
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

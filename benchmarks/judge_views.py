"""Where do the held-out judges see a run's synthetic windows differ from real ones?

The subject-held-out judge (:func:`imusynth.metrics.heldout_discriminative_score`) is run on
views of both sides at once: the whole window, frequency bands of it (zero-phase Butterworth
filters), the accelerometer or the gyroscope alone, and each window standardised per
channel (its level and scale removed, its shape kept). Each view is printed beside its floor,
the same judge on real vs real windows of disjoint subjects seen through the same view. A
view whose score falls to its floor does not carry what gives the windows away; one that
keeps the whole window's score does.

Real windows: subjects 1-8 of the watch data (as in gan_fidelity_watch.py); synthetic ones:
as many per class, sampled from RUN (a run folder trained on them)::

    python benchmarks/judge_views.py RUN [--judge cnn|forest] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from imusynth.data import load_windows
from imusynth.gan import load_run, sample_windows
from imusynth.metrics import heldout_discriminative_floor, heldout_discriminative_score

TRAIN_SUBJECTS = [str(s) for s in range(1, 9)]


def band(X: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """``X`` filtered to ``lo``-``hi`` Hz (0: no lower edge; Nyquist or more: no upper)."""
    nyq = fs / 2
    if lo <= 0:
        sos = butter(4, hi, "lowpass", fs=fs, output="sos")
    elif hi >= nyq:
        sos = butter(4, lo, "highpass", fs=fs, output="sos")
    else:
        sos = butter(4, [lo, hi], "bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, X, axis=-1).astype(np.float32)


def standardised(X: np.ndarray) -> np.ndarray:
    """Each window and channel with zero mean and unit sd (level and scale removed)."""
    mu = X.mean(-1, keepdims=True)
    sd = X.std(-1, keepdims=True)
    return ((X - mu) / np.maximum(sd, 1e-6)).astype(np.float32)


def views(fs: float) -> dict:
    return {
        "whole window": lambda X: X,
        "0-3 Hz (movement)": lambda X: band(X, fs, 0, 3),
        "3-10 Hz": lambda X: band(X, fs, 3, 10),
        "10-25 Hz (tremor, strap, noise)": lambda X: band(X, fs, 10, fs / 2),
        "accelerometer only": lambda X: X[:, :3],
        "gyroscope only": lambda X: X[:, 3:],
        "standardised per window": standardised,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder of a GAN trained on subjects 1-8")
    parser.add_argument("--judge", choices=("cnn", "forest"), default="cnn")
    parser.add_argument("--repeats", type=int, default=3, help="subject splits per score")
    parser.add_argument("--only", default="", help="comma-separated view names (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--out", type=Path, default=None, help="write a markdown table here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    ws = load_windows("watch.toml")
    train = ws.subset(np.isin(ws.groups, TRAIN_SUBJECTS))
    run = load_run(args.run, device="cpu")
    synth = sample_windows(run, train.class_counts(), seed=args.seed)
    kind = "cnn" if args.judge == "cnn" else "features"
    kw = {"n_repeats": args.repeats, "seed": 0, "classifier": kind}
    chosen = views(train.sampling_rate_hz)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    rows = []
    for name, view in chosen.items():
        start = time.perf_counter()
        real_v, fake_v = view(train.X), view(synth.X)
        floor = heldout_discriminative_floor(real_v, train.groups, y=train.y, **kw)
        score = heldout_discriminative_score(
            real_v, train.groups, fake_v, synth.groups, y_real=train.y, y_fake=synth.y, **kw
        )
        rows.append((name, score, floor))
        took = time.perf_counter() - start
        print(f"{name:34s} synthetic {score}  floor {floor}  ({took:.0f}s)", flush=True)
    if args.out is not None:
        lines = [
            f"# Held-out {args.judge} judge by view: `{args.run}`",
            "",
            f"{len(synth)} synthetic windows (as many per class as real subjects 1-8), "
            f"{args.repeats} subject splits per score; 0 = indistinguishable, 0.5 = always "
            "told apart.",
            "",
            "| view | synthetic vs real | real vs real (floor) |",
            "|---|---|---|",
            *(f"| {n} | {s} | {f} |" for n, s, f in rows),
            "",
            "Reproduce: `python benchmarks/judge_views.py RUN "
            f"--judge {args.judge} --repeats {args.repeats}`",
            "",
        ]
        args.out.write_text("\n".join(lines), encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

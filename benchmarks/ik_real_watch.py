"""Inverse kinematics on the real seglearn watch windows: how much of real data the arm explains.

Cuts every recording of the seglearn watch data (Burns et al. 2018; 50 Hz, ax ay az in g,
wx wy wz in rad/s) into 5 s windows with stride 2.5 s (250 samples, stride 125, as
``imusynth/configs/watch.toml``), fits :func:`imusynth.kinematics.fit_joint_angles` with the arm of
the recorded side, and writes the median R^2 per exercise and channel as a Markdown table.

    python benchmarks/ik_real_watch.py                      # all windows, CPU
    python benchmarks/ik_real_watch.py --per-class 20       # 20 windows per exercise and side
    python benchmarks/ik_real_watch.py --device cuda --out experiments/results/ik_real_watch.md
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from imusynth.kinematics import ArmModel, fit_joint_angles
from imusynth.kinematics.simulate import EXERCISES

CHANNELS = ("ax", "ay", "az", "wx", "wy", "wz")


def load_watch(path: str | None) -> dict:
    if path is None:
        import seglearn

        path = os.path.join(os.path.dirname(seglearn.__file__), "data", "watch_dataset.npy")
    return np.load(path, allow_pickle=True).item()


def windows(data: dict, length: int, stride: int):
    """(N, 6, T) float32 windows, exercise codes, sides ('right'/'left'), subjects."""
    xs, ys, sides, subj = [], [], [], []
    for rec, y, side, s in zip(data["X"], data["y"], data["side"], data["subject"], strict=True):
        for start in range(0, len(rec) - length + 1, stride):
            xs.append(rec[start : start + length].T)  # (6, T)
            ys.append(int(y))
            sides.append("right" if int(side) == 1 else "left")
            subj.append(int(s))
    return np.stack(xs).astype(np.float32), np.array(ys), np.array(sides), np.array(subj)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="watch_dataset.npy (default: seglearn's copy)")
    ap.add_argument(
        "--per-class", type=int, default=0, help="windows per exercise and side (0 = all)"
    )
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--restart-steps", type=int, default=15)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy machine)"
    )
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-trunk", action="store_true", help="fixed thorax (5 joints)")
    ap.add_argument("--no-mount", action="store_true", help="do not fit the watch mounting")
    ap.add_argument("--knot-spacing", type=float, default=0.1, help="spline knot spacing, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    ap.add_argument("--save", default=None, help="save fitted angles and R^2 (.npz)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    X, y, side, subj = windows(load_watch(args.data), 250, 125)
    n_all = len(X)
    if args.per_class:
        rng = np.random.default_rng(args.seed)
        keep = []
        for k in range(len(EXERCISES)):
            for s in ("right", "left"):
                idx = np.flatnonzero((y == k) & (side == s))
                keep.extend(rng.choice(idx, min(args.per_class, len(idx)), replace=False))
        keep = np.sort(np.array(keep))
        X, y, side, subj = X[keep], y[keep], side[keep], subj[keep]
    print(f"{len(X)} of {n_all} windows, device {args.device}, threads {torch.get_num_threads()}")

    r2 = np.zeros((len(X), 6))
    q = None
    t0 = time.perf_counter()
    for s in ("right", "left"):
        idx = np.flatnonzero(side == s)
        model = ArmModel(s, trunk=not args.no_trunk)
        res = fit_joint_angles(
            X[idx, :3],
            X[idx, 3:],
            50.0,
            model,
            fit_mount=not args.no_mount,
            knot_spacing_s=args.knot_spacing,
            steps=args.steps,
            restart_steps=args.restart_steps,
            batch_size=args.batch_size,
            device=args.device,
            progress=True,
            seed=args.seed,
        )
        r2[idx] = res.r2.numpy()
        if q is None:
            q = np.zeros((len(X), *res.q.shape[1:]), dtype=np.float32)
            names = res.joint_names
        q[idx] = res.q.numpy()
    elapsed = time.perf_counter() - t0

    lines = [
        "# Inverse kinematics on the real watch windows",
        "",
        f"Windows: {len(X)} of {n_all} (5 s, stride 2.5 s"
        + (f", {args.per_class} per exercise and side at random" if args.per_class else ", all")
        + f"). Model: {'fixed thorax' if args.no_trunk else 'trunk lean'}, "
        f"{'nominal watch mount' if args.no_mount else 'fitted watch mount'}, "
        f"knots every {args.knot_spacing:g} s; "
        f"{args.steps} L-BFGS iterations after a {args.restart_steps}-iteration multi-start "
        "(12 starting poses, each tracked through the gyroscope). "
        f"{elapsed:.0f} s on {args.device} ({torch.get_num_threads()} torch threads).",
        "",
        "Median R^2 per exercise and channel (mean over channels in the last column):",
        "",
        "| exercise | n | " + " | ".join(CHANNELS) + " | all |",
        "|---" * 9 + "|",
    ]
    for k, ex in enumerate(EXERCISES):
        m = y == k
        med = np.median(r2[m], axis=0)
        cells = " | ".join(f"{v:.2f}" for v in med)
        lines.append(f"| {ex} | {m.sum()} | {cells} | {np.median(r2[m].mean(1)):.2f} |")
    med = np.median(r2, axis=0)
    lines.append(
        f"| all | {len(X)} | "
        + " | ".join(f"{v:.2f}" for v in med)
        + f" | {np.median(r2.mean(1)):.2f} |"
    )
    lines += ["", "Median fitted joint angles per exercise (degrees):", ""]
    lines.append("| exercise | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for k, ex in enumerate(EXERCISES):
        med_q = np.degrees(np.median(q[y == k].mean(-1), axis=0))
        lines.append(f"| {ex} | " + " | ".join(f"{v:.0f}" for v in med_q) + " |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(report)
    if args.save:
        np.savez_compressed(args.save, r2=r2, q=q, y=y, side=side, subject=subj)


if __name__ == "__main__":
    main()

"""A user's own data, end to end: 10 Hz, m/s^2 with gravity removed, through a CSV spec.

Builds a dataset of another kind from the watch recordings (Burns et al. 2018, seglearn) the
way a user's data would arrive: accelerometer in m/s^2 with gravity removed, gyroscope in
deg/s, resampled to 10 Hz (polyphase, anti-aliased), one long-format CSV with a spec that
says so. Gravity is removed as phone and watch APIs' "linear acceleration" does, by sensor
fusion: a complementary filter carries the gravity direction in the sensor frame with the
gyroscope and pulls it slowly toward the accelerometer (time constant 1 s). (A high-pass
filter would not do: as the arm turns, gravity's projection changes at the movement's own
frequencies and would stay in the signal.) Then the README's path, through the command line:
``data windows`` -> ``data split`` (subjects 9-10 test) -> ``train`` (the default config, each
generator) -> ``sample`` -> ``evaluate``, and prints per generator: the forest TSTR / TRTR,
the held-out judge beside its floor, and (kinematic) the residual branch's share of the
output power with its bound.

    python benchmarks/user_data_10hz.py --work runs/user_data_10hz \
        --out experiments/results/user_data_10hz.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imusynth.config import BUNDLED_DIR  # noqa: E402
from imusynth.data import load_recordings, read_windows  # noqa: E402

G = 9.80665
RATE = 10.0
SPEC = """\
name = "watch-10hz-linear"
description = "Watch exercises at 10 Hz: linear acceleration in m/s^2, gyroscope in deg/s"

[source]
kind = "csv"
path = "recordings.csv"

[signal]
sampling_rate_hz = 10.0
channels = ["ax", "ay", "az", "wx", "wy", "wz"]
units = ["m/s^2", "m/s^2", "m/s^2", "deg/s", "deg/s", "deg/s"]
gravity = false
placement = "wrist"

[labels]
classes = {classes}

[columns]
recording = "recording"
subject = "subject"
label = "label"
time = "time"
side = "side"

[windows]
length_s = 5.0
stride_s = 2.5
"""


def gravity_in_sensor_frame(
    acc: np.ndarray, gyro: np.ndarray, fs: float, time_constant_s: float = 1.0
) -> np.ndarray:
    """Gravity's direction in the sensor frame ``(3, T)`` (unit norm, in g) by a
    complementary filter: a fixed world vector seen from a sensor turning at ``gyro``
    (rad/s) changes as ``dv/dt = -gyro x v``; the accelerometer corrects the drift with
    time constant ``time_constant_s``."""
    dt = 1.0 / fs
    alpha = dt / time_constant_s
    est = acc[:, : int(fs)].mean(axis=1)
    est /= np.linalg.norm(est)
    out = np.empty_like(acc)
    for t in range(acc.shape[1]):
        est = est - dt * np.cross(gyro[:, t], est)
        est = est + alpha * (acc[:, t] - est)
        est /= np.linalg.norm(est)
        out[:, t] = est
    return out


def make_dataset(folder: Path) -> Path:
    """Write ``recordings.csv`` and ``spec.toml`` into ``folder``; return the spec path."""
    recs = load_recordings(BUNDLED_DIR / "watch.toml")
    fs = recs.sampling_rate_hz
    up, down = 1, round(fs / RATE)
    frames = []
    for sig, y, subject, side, rid in zip(
        recs.signals, recs.y, recs.groups, recs.side, recs.ids, strict=True
    ):
        sig = np.asarray(sig, dtype=np.float64)  # (6, T) g and rad/s at 50 Hz
        acc = sig[:3] - gravity_in_sensor_frame(sig[:3], sig[3:], fs)  # linear acceleration, g
        both = np.vstack([acc * G, np.degrees(sig[3:])])  # m/s^2, deg/s
        slow = signal.resample_poly(both, up, down, axis=1)  # (6, T / 5) at 10 Hz
        n = slow.shape[1]
        frame = pd.DataFrame(slow.T, columns=["ax", "ay", "az", "wx", "wy", "wz"])
        frame.insert(0, "time", np.arange(n) / RATE)
        frame.insert(0, "side", side)
        frame.insert(0, "label", recs.classes[int(y)])
        frame.insert(0, "subject", subject)
        frame.insert(0, "recording", rid)
        frames.append(frame)
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(folder / "recordings.csv", index=False, float_format="%.6g")
    spec = folder / "spec.toml"
    spec.write_text(SPEC.replace("{classes}", json.dumps(list(recs.classes))), encoding="utf-8")
    return spec


def imusynth(*args: str, threads: int) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "imusynth", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: imusynth {' '.join(args)}\n{done.stderr}")
    return done.stdout + done.stderr


def _judge(score: dict) -> str:
    if not score or score.get("mean") is None:
        return "-"
    sd = score.get("sd")
    return f"{score['mean']:.2f}" + (f" ± {sd:.2f}" if sd is not None else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=REPO / "runs" / "user_data_10hz")
    p.add_argument("--config", default=str(BUNDLED_DIR / "watch_cgan.toml"))
    p.add_argument("--generators", default="kinematic,conv1d")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, help="write a markdown report here")
    args = p.parse_args()
    work = args.work
    t = args.threads
    train, test = work / "train.h5", work / "test.h5"
    if not (train.exists() and test.exists()):  # a second call reuses data and runs
        spec = make_dataset(work / "data")
        windows = work / "windows.h5"
        windows.unlink(missing_ok=True)
        imusynth("data", "windows", str(spec), "--out", str(windows), threads=t)
        imusynth(
            "data", "split", str(windows), "--train", str(train), "--test", str(test),
            "--test-groups", "9,10", threads=t,
        )  # fmt: skip
    real = read_windows(train)
    per_class = str(int(np.ceil(len(real) / len(real.classes))))  # as many as the real set
    rows = []
    for gen in args.generators.split(","):
        run = work / f"run_{gen}"
        sets = [] if gen == "kinematic" else ["--set", f"model.generator={gen}"]
        start = time.perf_counter()
        if (run / "metrics.csv").exists() and (run / "checkpoint.pt").exists():
            # reused: from the run's first file to its last checkpoint
            minutes = (
                (run / "checkpoint.pt").stat().st_mtime - (run / "run.json").stat().st_mtime
            ) / 60
        else:
            log = imusynth(
                "train", "--config", args.config, "--data", str(train), "--out", str(run),
                *sets, threads=t,
            )  # fmt: skip
            (run / "train.log").write_text(log)
            minutes = (time.perf_counter() - start) / 60
        synth = work / f"synthetic_{gen}.h5"
        imusynth(
            "sample", "--run", str(run), "--per-class", per_class, "--out", str(synth), threads=t
        )
        report = work / f"eval_{gen}"
        imusynth(
            "evaluate", "--train", str(train), "--test", str(test), "--synthetic", str(synth),
            "--out", str(report), "--classifier", "rf", "--skip-gru-judges", threads=t,
        )  # fmt: skip
        m = json.loads((report / "metrics.json").read_text())
        meta = json.loads((run / "run.json").read_text())
        rows.append((gen, minutes, m, meta))
        print(gen, f"TSTR {m['tstr_accuracy']:.3f} TRTR {m['trtr_accuracy']:.3f}", flush=True)
    lines = [
        "# A user's data: 10 Hz, m/s^2 without gravity, deg/s, through a CSV spec",
        "",
        "The watch recordings (Burns et al. 2018) made into another kind of data: gravity",
        "removed from the accelerometer by sensor fusion (a complementary filter carries its",
        "direction with the gyroscope, time constant 1 s), resampled to 10 Hz, m/s^2 and deg/s,",
        "one long-format CSV and a spec with `gravity = false`.",
        "5 s windows (50 samples), 2.5 s stride; subjects 1-8 train, 9-10 test. Each generator",
        "trains with the default config and no `--set` (conv1d: `model.generator=conv1d`).",
        "Scores from `imusynth evaluate --classifier rf` (a forest on window features).",
        "",
        f"Reproduce: `python benchmarks/user_data_10hz.py --out {args.out}`",
        "",
        "| generator | train min | TRTR acc | TSTR acc | TSTR/TRTR | TRTS acc | held-out judge "
        "(floor) | residual share accel / gyro (bound 0.25) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for gen, minutes, m, _ in rows:
        judge = {"mean": m.get("discriminative_score"), "sd": m.get("discriminative_score_sd")}
        floor = {
            "mean": m.get("discriminative_score_floor"),
            "sd": m.get("discriminative_score_floor_sd"),
        }
        share = m.get("residual_share")
        lines.append(
            f"| {gen} | {minutes:.1f} | {m['trtr_accuracy']:.3f} | {m['tstr_accuracy']:.3f} | "
            f"{m['tstr_accuracy'] / m['trtr_accuracy']:.2f} | {m['trts_accuracy']:.3f} | "
            f"{_judge(judge)} ({_judge(floor)}) | "
            + (f"{share['accel']:.3f} / {share['gyro']:.3f}" if share else "-")
            + " |"
        )
    lines.append("")
    for gen, _, _, meta in rows:
        chosen = meta.get("validation_subjects")
        if chosen:
            lines.append(
                f"- {gen}: checkpoint chosen on validation subjects {', '.join(chosen)} "
                f"(`runs/.../run_{gen}/selection.csv`)"
            )
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

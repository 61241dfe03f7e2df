"""Fingerprint what the package computes, to check that a refactoring changes nothing.

Runs, with fixed seeds and one torch thread, through the command line as a user would:

* a ``--quick`` rebalancing experiment on the watch data (``results.csv``),
* a short window-GAN ``train`` + ``sample`` (the sampled ``X``, ``y``, ``groups``),
* a short image-GAN ``train`` + ``sample`` on the liver-lesion phantoms.

and prints one SHA-256 per output. Run it before and after a change and compare the lines
(``diff``); equal lines mean byte-identical results. Floating-point results are only comparable
on the same machine, torch version and thread count::

    python benchmarks/behaviour_pin.py --work /tmp/pin-before > before.txt
    # ... change the code ...
    python benchmarks/behaviour_pin.py --work /tmp/pin-after > after.txt
    diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def imusynth(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "imusynth", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr}")


def digest_arrays(path: Path, names: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        for name in names:
            data = f[name][()]
            if data.dtype.kind == "O":
                data = np.array([str(v) for v in data.astype(str)])
            h.update(name.encode())
            h.update(np.ascontiguousarray(data).tobytes())
    return h.hexdigest()


def digest_csv(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    args = parser.parse_args()
    work: Path = args.work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    imusynth(
        "experiment",
        "experiments/watch_rebalancing.toml",
        "--quick",
        "--out",
        str(work / "experiment"),
        "--seed",
        "0",
    )
    print(f"experiment results.csv {digest_csv(work / 'experiment' / 'results.csv')}")

    for name, config, steps in (
        ("windows", "watch_cgan.toml", 40),
        ("images", "ct_dcgan.toml", 20),
    ):
        run = work / f"run_{name}"
        imusynth(
            "train",
            "--config",
            config,
            "--set",
            f"train.steps={steps}",
            "--set",
            "train.checkpoint_every=0",
            "--out",
            str(run),
        )
        out = work / f"sample_{name}.h5"
        imusynth("sample", str(run), "--per-class", "4", "--out", str(out), "--seed", "0")
        print(f"{name} sample X,y,groups {digest_arrays(out, ('X', 'y', 'groups'))}")


if __name__ == "__main__":
    main()

"""How many synthetic windows go beyond what the real ones reach: the share of windows whose
peak acceleration exceeds 3 g or whose peak angular rate exceeds 12 rad/s, per class, for the
real watch windows and for run folders given on the command line.

    python benchmarks/extreme_windows.py RUN [RUN ...]
"""

import sys

import numpy as np

from imusynth.data import load_windows
from imusynth.gan import load_run, sample

ws = load_windows("data_specs/watch.toml")
for name in sys.argv[1:]:
    run = load_run(name, device="cpu")
    fake = sample(run, 200, seed=0)
    for lab, X, y in (("real", ws.X, ws.y), (name, fake.X, fake.y)):
        acc = np.abs(X[:, :3]).max(axis=(1, 2))
        gyr = np.abs(X[:, 3:]).max(axis=(1, 2))
        per = {
            c: round(float(np.mean((acc[y == i] > 3) | (gyr[y == i] > 12))), 3)
            for i, c in enumerate(ws.classes)
        }
        print(
            lab,
            "share of windows with |a|>3 g or |w|>12 rad/s:",
            round(float(np.mean((acc > 3) | (gyr > 12))), 3),
            per,
        )

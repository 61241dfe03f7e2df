"""Do synthetic windows repeat like real ones, look the same played backwards, and is their
fast content bursty like real?

Exercises are done in repetitions at a steady tempo: below 3 Hz, a real watch window
correlates with itself shifted by one repetition (0.4-3 s) at nearly 1 (Pearson correlation of
the overlapping parts, on the window's most repetitive channel). Per class: the median of that
peak correlation and of the shift where it peaks.

A real movement looks about the same played backwards: per class, the median skewness of
its movement's 60 ms increments (below 3 Hz, per channel) is near 0, because lifting and
lowering take similar shapes; a generator whose movements rise fast and fall slowly (or the
reverse) skews them. Per channel: the mean over classes of the absolute class median.
Autocorrelations and spectra cannot see this; a CNN judge can.

How much fast content a window carries varies many-fold between real windows, but within
bounds: per window and channel, the RMS above 10 Hz (4th-order Butterworth, zero-phase); per
class its median and 95th percentile over the windows, and per channel the mean of each over
the classes, with the class whose 95th percentile lies furthest from the real one. A learned
per-window noise level whose median is right can still have far too long an upper tail.

The 10-25 Hz band of the real watch windows (tremor, strap wobble, impacts at the turns of a
movement) comes in bursts: its excess kurtosis is well above 0 and its local RMS over 0.5 s
peaks at about twice its mean. Stationary Gaussian noise, however well its spectrum is
shaped, has excess kurtosis 0 and a peak-to-mean local RMS near 1.4. Per channel: the median
and 10-90 % range of both statistics over the windows, for the real windows (subjects 1-8, as
in gan_fidelity_watch.py) and for run folders sampled with as many windows per class.

    python benchmarks/window_statistics.py [RUN ...]
"""

import argparse

import numpy as np
from gan_fidelity_watch import TRAIN_SUBJECTS
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt
from scipy.stats import kurtosis

from imusynth.data import load_windows
from imusynth.gan import load_run, sample

BAND_HZ = (10.0, 24.5)
RMS_SECONDS = 0.5
MOVEMENT_HZ = 3.0
REPEAT_SECONDS = (0.4, 3.0)
INCREMENT_SECONDS = 0.06


def repetition(X: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per window: the peak over shifts of 0.4-3 s of the correlation of its movement (below
    3 Hz) with itself shifted, on its most repetitive channel, and that shift in s; ``(N,)``."""
    slow = sosfiltfilt(butter(4, MOVEMENT_HZ, fs=fs, output="sos"), X, axis=-1)
    lags = np.arange(round(REPEAT_SECONDS[0] * fs), round(REPEAT_SECONDS[1] * fs) + 1)
    corr = np.empty((len(lags), *X.shape[:2]))
    for i, lag in enumerate(lags):
        a, b = slow[..., :-lag], slow[..., lag:]
        a = a - a.mean(-1, keepdims=True)
        b = b - b.mean(-1, keepdims=True)
        den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
        corr[i] = (a * b).sum(-1) / np.maximum(den, 1e-12)
    best = corr.max(axis=0)  # (N, C)
    channel = best.argmax(axis=-1)
    rows = np.arange(len(X))
    return best[rows, channel], lags[corr[:, rows, channel].argmax(axis=0)] / fs


def increment_skew(X: np.ndarray, fs: float) -> np.ndarray:
    """Per window and channel: the skewness of the movement's (below 3 Hz) increments over
    60 ms, ``(N, C)``; it changes sign when the window is played backwards (but not on the
    angular rates of a movement played backwards: they change sign too)."""
    slow = sosfiltfilt(butter(4, MOVEMENT_HZ, fs=fs, output="sos"), X, axis=-1)
    k = max(1, round(INCREMENT_SECONDS * fs))
    d = slow[..., k:] - slow[..., :-k]
    return (d**3).mean(-1) / np.maximum((d**2).mean(-1), 1e-12) ** 1.5


def class_asymmetry(X: np.ndarray, y: np.ndarray, fs: float, n_classes: int) -> np.ndarray:
    """Per channel: the mean over classes of the absolute class median of
    :func:`increment_skew`, ``(C,)``."""
    skew = increment_skew(X, fs)
    return np.mean([np.abs(np.median(skew[y == c], axis=0)) for c in range(n_classes)], axis=0)


def burstiness(X: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per window and channel: the 10-25 Hz band's excess kurtosis and the peak over the mean
    of its local RMS (0.5 s boxcar), each ``(N, C)``."""
    sos = butter(4, BAND_HZ, btype="band", fs=fs, output="sos")
    fast = sosfiltfilt(sos, X, axis=-1)
    rms = np.sqrt(uniform_filter1d(fast**2, max(1, round(RMS_SECONDS * fs)), axis=-1))
    return kurtosis(fast, axis=-1), rms.max(axis=-1) / rms.mean(axis=-1)


def fast_rms(X: np.ndarray, fs: float) -> np.ndarray:
    """Per window and channel: the RMS of the content above 10 Hz, ``(N, C)``."""
    sos = butter(4, BAND_HZ[0], btype="high", fs=fs, output="sos")
    return np.sqrt((sosfiltfilt(sos, X, axis=-1) ** 2).mean(-1))


def summary(values: np.ndarray) -> str:
    lo, mid, hi = np.percentile(values, [10, 50, 90], axis=0)
    cells = (f"{m:.2f} [{a:.2f}, {b:.2f}]" for m, a, b in zip(mid, lo, hi, strict=True))
    return " ".join(f"{c:>20}" for c in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ws = load_windows("watch.toml")
    real = ws.subset(np.isin(ws.groups, sorted(TRAIN_SUBJECTS)))
    fs = ws.sampling_rate_hz
    sets = {"real (subjects 1-8)": real.X}
    labels = {"real (subjects 1-8)": real.y}
    counts = np.bincount(real.y, minlength=len(real.classes))
    for path in args.runs:
        run = load_run(path, device="cpu")
        per_class = {c: int(n) for c, n in zip(real.classes, counts, strict=True)}
        synth = sample(run, per_class=per_class, seed=args.seed)
        sets[path], labels[path] = synth.X, synth.y
    width = max(map(len, sets)) + 1
    classes = " ".join(f"{c:>12}" for c in real.classes)
    print(
        f"repetition: median peak correlation [and its shift, s] per class\n{'':{width}}{classes}"
    )
    for label, X in sets.items():
        peak, shift = repetition(X, fs)
        y = labels[label]
        cells = (
            f"{np.median(peak[y == i]):.2f} [{np.median(shift[y == i]):.1f}]"
            for i in range(len(real.classes))
        )
        print(f"{label:{width}}" + " ".join(f"{c:>12}" for c in cells))
    print()
    channels = " ".join(f"{c:>20}" for c in ws.channels)
    print(
        "time asymmetry: mean over classes of |median skewness of 60 ms movement increments|"
        f"\n{'':{width}}{channels}"
    )
    for label, X in sets.items():
        row = class_asymmetry(X, labels[label], fs, len(real.classes))
        print(f"{label:{width}}" + " ".join(f"{v:>20.2f}" for v in row))
    print()
    print(
        "fast-content level: RMS above 10 Hz per window, class median / class 95th percentile, "
        f"mean over classes [class furthest from real at the 95th]\n{'':{width}}{channels}"
    )
    real_p95 = None
    for label, X in sets.items():
        rms, y = fast_rms(X, fs), labels[label]
        q = np.stack([np.percentile(rms[y == i], [50, 95], axis=0) for i in range(len(counts))])
        mid, p95 = q[:, 0].mean(0), q[:, 1].mean(0)  # (C,) each
        cells = [f"{a:.2f} / {b:.2f}" for a, b in zip(mid, p95, strict=True)]
        if real_p95 is None:
            real_p95 = q[:, 1]  # (K, C)
        else:
            worst = np.abs(np.log(q[:, 1] / real_p95)).argmax(axis=0)  # (C,)
            cells = [f"{c} [{real.classes[k]}]" for c, k in zip(cells, worst, strict=True)]
        print(f"{label:{width}}" + " ".join(f"{c:>20}" for c in cells))
    print()
    stats = {label: burstiness(X, fs) for label, X in sets.items()}
    for name, stat in (("excess kurtosis, 10-25 Hz", 0), ("peak / mean local RMS", 1)):
        print(f"{name}: median [10-90 %] per channel\n{'':{width}}{channels}")
        for label, values in stats.items():
            print(f"{label:{width}}{summary(values[stat])}")
        print()


if __name__ == "__main__":
    main()

"""Known answers of the window statistics that compare synthetic and real movement
(benchmarks/window_statistics.py)."""

from __future__ import annotations

import numpy as np

from .conftest import load_benchmark

window_statistics = load_benchmark("window_statistics")

FS = 50.0
T = np.arange(250) / FS


def test_increment_skew_changes_sign_when_a_window_is_played_backwards():
    # A slow rise and a fast fall every 1.25 s: the increments are skewed towards the fall.
    phase = (T * 0.8) % 1.0
    saw = np.where(phase < 0.8, phase / 0.8, (1.0 - phase) / 0.2)
    sym = np.sin(2 * np.pi * 0.8 * T)
    X = np.stack([np.stack([saw, sym]), np.stack([saw[::-1], sym[::-1]])])  # (2, 2, 250)
    skew = window_statistics.increment_skew(X, FS)
    assert skew[0, 0] < -0.5
    assert np.isclose(skew[1, 0], -skew[0, 0], atol=0.05)
    assert abs(skew[0, 1]) < 0.05  # a sine rises as it falls


def test_class_asymmetry_cancels_within_a_class_that_leans_both_ways():
    # Class 0: the sawtooth forwards and backwards (median skewness 0); class 1: forwards
    # only. Channel 1 is a sine in every window.
    phase = (T * 0.8) % 1.0
    saw = np.where(phase < 0.8, phase / 0.8, (1.0 - phase) / 0.2)
    sym = np.sin(2 * np.pi * 0.8 * T)
    rows = [(saw, 0), (saw[::-1], 0), (saw, 1), (saw, 1)]
    X = np.stack([np.stack([x, sym]) for x, _ in rows])
    y = np.array([c for _, c in rows])
    both = window_statistics.class_asymmetry(X, y, FS, 2)
    lean = abs(window_statistics.increment_skew(X[2:3], FS)[0, 0])
    assert np.isclose(both[0], lean / 2, atol=0.03)  # class 1 alone, averaged with 0
    assert both[1] < 0.05


def test_fast_rms_measures_only_the_content_above_10_hz():
    slow = 2.0 * np.sin(2 * np.pi * 1.0 * T)
    fast = 0.3 * np.sin(2 * np.pi * 15.0 * T)
    rms = window_statistics.fast_rms(np.stack([np.stack([slow, slow + fast])]), FS)
    assert rms[0, 0] < 0.01
    assert np.isclose(rms[0, 1], 0.3 / np.sqrt(2), rtol=0.05)

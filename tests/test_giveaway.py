"""The giveaway report (imusynth.metrics.giveaway) and its figures (imusynth.plots.giveaway)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.errors import DataError
from imusynth.metrics.embedding import embedding_features
from imusynth.metrics.giveaway import feature_auc, giveaway_report, log_psd_comparison
from imusynth.plots.giveaway import plot_giveaway_features, plot_log_psd


@pytest.fixture(scope="module")
def watch():
    """Real watch windows of subjects 1-5 and 6-10, and 'synthetic' windows: those of
    subjects 6-10 with a 23 Hz tone on az (too much energy near Nyquist, the kind of excess
    a generator shows)."""
    from imusynth.data import load_windows

    ws = load_windows(BUNDLED_DIR / "watch.toml")
    subject = np.array([int(g) for g in ws.groups])
    # Every second window: neighbours overlap by half, so little is lost and time halves.
    keep = np.arange(len(subject)) % 2 == 0
    a, b = keep & (subject <= 5), keep & (subject > 5)
    t = np.arange(ws.X.shape[2]) / ws.sampling_rate_hz
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (int(b.sum()), 1))
    fake = ws.X[b].copy()
    fake[:, 2] += 0.05 * np.sin(2 * np.pi * 23.0 * t + phase)
    return ws, ws.X[a], subject[a], ws.X[b], fake


def test_report_names_the_feature_that_gives_the_fake_away(watch):
    ws, real, groups, _, fake = watch
    rep = giveaway_report(real, fake, ws.channels, ws.sampling_rate_hz, real_groups=groups)
    assert len(rep) == 10
    assert rep.loc[0, "feature"] == "az band 21.9-25.0 Hz log-energy"
    assert rep.loc[0, "auc"] > 0.9
    assert rep["separation"].is_monotonic_decreasing
    # The percentiles are those of that feature on each side.
    col = rep.loc[0, "column"]
    fr, ff = embedding_features(real)[:, col], embedding_features(fake)[:, col]
    np.testing.assert_allclose(
        rep.loc[0, ["real_p10", "real_median", "real_p90"]].to_numpy(float),
        np.percentile(fr, [10, 50, 90]),
    )
    np.testing.assert_allclose(rep.loc[0, "synthetic_median"], np.median(ff))
    assert rep.loc[0, "synthetic_median"] > rep.loc[0, "real_p90"]
    assert "real_vs_real_auc" in rep


def test_report_on_held_out_real_subjects_finds_no_strong_giveaway(watch):
    ws, real, _, held, _ = watch
    rep = giveaway_report(real, held, ws.channels, ws.sampling_rate_hz, top=1)
    # Measured: the best single feature separates subjects 1-5 from 6-10 at AUC 0.62.
    assert rep.loc[0, "separation"] < 0.2


def test_log_psd_shows_the_tone_and_only_there(watch):
    ws, real, _, _, fake = watch
    t = log_psd_comparison(real, fake, ws.channels, ws.sampling_rate_hz)
    assert list(t.columns[:2]) == ["channel", "frequency_hz"]
    az = t[(t.channel == "az") & (t.frequency_hz.sub(23.0).abs() < 0.3)]
    assert np.all(az.synthetic_p10 > az.real_p90)
    ax = t[t.channel == "ax"]
    assert np.all(ax.real_p10 <= ax.real_median) and np.all(ax.real_median <= ax.real_p90)
    # Away from the tone, the fake (real windows of other subjects) lies inside the real band.
    inside = (ax.synthetic_median > ax.real_p10) & (ax.synthetic_median < ax.real_p90)
    assert inside.mean() > 0.95


def test_collapse_narrows_the_psd_band(rng):
    t = np.arange(128) / 50.0
    freq = rng.uniform(1, 10, (80, 1, 1))
    real = np.sin(2 * np.pi * freq * t) + 0.1 * rng.normal(size=(80, 1, 128))
    collapsed = real[:1] + 0.001 * rng.normal(size=(80, 1, 128))
    tab = log_psd_comparison(real, collapsed, ["wz"], 50.0)
    spread_real = (tab.real_p90 - tab.real_p10).median()
    spread_fake = (tab.synthetic_p90 - tab.synthetic_p10).median()
    assert spread_fake < 0.2 * spread_real


def test_feature_auc_known_answers(rng):
    a = rng.normal(size=(200, 3))
    b = a + np.array([10.0, 0.0, -10.0])
    np.testing.assert_allclose(feature_auc(a, b), [1.0, 0.5, 0.0])
    x, y = rng.normal(size=(50, 4)), rng.normal(0.3, 1, size=(70, 4))
    np.testing.assert_allclose(feature_auc(x, y), 1.0 - feature_auc(y, x))


def test_user_errors_are_typed(rng):
    x = rng.normal(size=(10, 2, 64))
    for kwargs, field in (
        ({"channels": ["a"]}, "channels"),
        ({"sampling_rate_hz": 0.0}, "sampling_rate_hz"),
        ({"real_groups": np.zeros(10)}, "real_groups"),
    ):
        args = {"channels": ["a", "b"], "sampling_rate_hz": 50.0, **kwargs}
        with pytest.raises(DataError) as err:
            giveaway_report(x, x, **args)
        assert err.value.field == field
    with pytest.raises(DataError) as err:
        log_psd_comparison(x, x[:, :1], ["a", "b"], 50.0)
    assert err.value.field == "fake"


def test_figures_label_units_and_keep_dollar_signs_literal(rng):
    channels = ["$\\nocommand$", "w$z"]  # would fail to render if parsed as mathtext
    real = rng.normal(size=(30, 2, 128)).cumsum(2)
    fake = real + rng.normal(size=real.shape)
    fig = plot_log_psd(log_psd_comparison(real, fake, channels, 50.0), ["g", "rad/s"])
    assert fig.axes[0].get_title() == channels[0]
    assert fig.axes[0].get_xlabel() == "frequency [Hz]"
    assert fig.axes[0].get_ylabel() == "PSD [g²/Hz]"
    fig.savefig(io.BytesIO(), format="png")
    rep = giveaway_report(real, fake, channels, 50.0, top=3)
    fig = plot_giveaway_features(real, fake, rep)
    assert rep.loc[0, "feature"] in fig.axes[0].get_title().replace("\n", " ")
    fig.savefig(io.BytesIO(), format="png")

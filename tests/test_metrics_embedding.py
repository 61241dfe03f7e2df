"""Distances and coverage on the real-fit window embedding (imusynth.metrics.embedding)."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.errors import DataError, ImusynthError
from imusynth.metrics.embedding import (
    WindowEmbedding,
    coverage_metrics,
    embedded_coverage,
    embedded_frechet,
    embedded_mmd,
    embedding_feature_names,
    embedding_features,
)


@pytest.fixture(scope="module")
def watch_split():
    """Real watch windows of subjects 1-5 (fit) and 6-10 (held out), matched-moment noise
    and a collapsed generator (one fit window repeated with tiny noise)."""
    from imusynth.data import load_windows

    ws = load_windows(BUNDLED_DIR / "watch.toml")
    subject = np.array([int(g) for g in ws.groups])
    # Every second window: neighbours overlap by half, so this keeps the information and
    # halves the time.
    fit, held = ws.X[subject <= 5][::2], ws.X[subject > 5][::2]
    rng = np.random.default_rng(0)
    mu, sd = fit.mean((0, 2)), fit.std((0, 2))  # per channel
    noise = mu[None, :, None] + sd[None, :, None] * rng.normal(size=held.shape)
    collapsed = fit[:1] + 0.01 * rng.normal(size=held.shape)
    return fit, held, noise.astype(np.float32), collapsed.astype(np.float32)


@pytest.fixture(scope="module")
def watch_embedding(watch_split):
    return WindowEmbedding().fit(watch_split[0])


# The same comparisons on raw flattened windows (channel-normalised by the fit subjects)
# measured: Fréchet 384 (held-out subjects) vs 2,129 (matched noise), only 5.5x; MMD 0.0039 vs
# 0.0031 -- raw MMD rates the noise *closer* than real windows of other subjects.


def test_frechet_on_the_embedding_puts_noise_and_collapse_far_above_held_out_subjects(
    watch_split, watch_embedding
):
    # Measured: held-out 53, matched noise 5,699, collapsed 449.
    fit, held, noise, collapsed = watch_split
    fd_held = embedded_frechet(fit, held, watch_embedding)
    assert embedded_frechet(fit, noise, watch_embedding) >= 5 * fd_held
    assert embedded_frechet(fit, collapsed, watch_embedding) >= 3 * fd_held


def test_mmd_on_the_embedding_puts_noise_and_collapse_far_above_held_out_subjects(
    watch_split, watch_embedding
):
    # Measured: held-out 0.0099, matched noise 1.51, collapsed 0.41.
    fit, held, noise, collapsed = watch_split
    mmd_held = abs(embedded_mmd(fit, held, watch_embedding))
    assert embedded_mmd(fit, noise, watch_embedding) >= 5 * mmd_held
    assert embedded_mmd(fit, collapsed, watch_embedding) >= 10 * mmd_held


def test_coverage_of_held_out_subjects_and_of_a_collapsed_generator(watch_split):
    fit, held, noise, collapsed = watch_split
    # On all 235 features held-out subjects cover ~5% of the real balls (each subject sits in
    # its own region); on the first 2 principal axes they cover most of them (measured:
    # coverage 0.81, density 0.83; collapsed 0.007).
    emb = WindowEmbedding(n_components=2).fit(fit)
    real = embedded_coverage(fit, held, emb)
    assert real["coverage"] > 0.6
    assert 0.6 < real["density"] < 1.4
    assert real["precision"] > 0.8 and real["recall"] > 0.6
    bad = embedded_coverage(fit, collapsed, emb)
    assert bad["coverage"] < 0.05 and bad["recall"] < 0.05
    assert embedded_coverage(fit, noise, emb)["coverage"] < 0.05


def test_embedding_is_standardised_by_the_real_windows_only(watch_split, watch_embedding):
    fit, _, noise, _ = watch_split
    Z = watch_embedding.transform(fit)
    assert Z.shape == (len(fit), len(embedding_feature_names(list("abcdef"))))
    np.testing.assert_allclose(Z.mean(0), 0.0, atol=1e-8)
    varying = watch_embedding.scale_ != 1.0
    np.testing.assert_allclose(Z[:, varying].std(0), 1.0, rtol=1e-6)
    # Transforming other windows does not refit.
    before = watch_embedding.mean_.copy()
    watch_embedding.transform(noise)
    np.testing.assert_array_equal(watch_embedding.mean_, before)


def test_whitened_embedding_has_identity_covariance(rng):
    X = rng.normal(size=(120, 3, 64)).cumsum(2)
    emb = WindowEmbedding(whiten=True, variance=0.9).fit(X)
    Z = emb.transform(X)
    assert Z.shape[1] == emb.n_features_out_ < len(emb.mean_)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(Z.shape[1]), atol=1e-8)
    two = WindowEmbedding(n_components=2).fit(X)
    assert two.transform(X).shape == (120, 2)


def test_a_fitted_models_features_are_appended(rng):
    class Energy:  # stands in for a fitted classifier's penultimate layer
        def transform(self, X):
            return np.log((X**2).mean(2))  # (N, C)

    X = rng.normal(size=(30, 3, 64))
    plain = WindowEmbedding().fit(X)
    with_model = WindowEmbedding(model=Energy()).fit(X)
    assert with_model.n_features_out_ == plain.n_features_out_ + 3


def test_a_cnn_classifiers_penultimate_layer_can_join_the_embedding(rng):
    from imusynth.train.classifiers import CNNClassifier

    X = rng.normal(size=(24, 3, 32)).astype(np.float32)
    y = np.repeat([0, 1], 12)
    cnn = CNNClassifier(epochs=1, val_fraction=0.0, random_state=0).fit(X, y)
    emb = WindowEmbedding(model=cnn).fit(X)
    assert emb.n_features_out_ == WindowEmbedding().fit(X).n_features_out_ + 256


def test_band_features_see_where_the_energy_is(rng):
    t = np.arange(256) / 50.0
    low = np.sin(2 * np.pi * 2.0 * t)[None, None, :] + 0.01 * rng.normal(size=(4, 1, 256))
    high = np.sin(2 * np.pi * 23.0 * t)[None, None, :] + 0.01 * rng.normal(size=(4, 1, 256))
    names = embedding_feature_names(["az"], 50.0)
    top = names.index("az band 21.9-25.0 Hz log-energy")
    bottom = names.index("az band 0.0-3.1 Hz log-energy")
    f_low, f_high = embedding_features(low), embedding_features(high)
    assert np.all(f_high[:, top] > f_low[:, top] + 3)  # three decades
    assert np.all(f_low[:, bottom] > f_high[:, bottom] + 3)


def test_coverage_known_answers_on_gaussians(rng):
    real = rng.normal(size=(600, 5))
    same = coverage_metrics(real, rng.normal(size=(600, 5)))
    assert same["coverage"] > 0.9 and 0.85 < same["density"] < 1.15
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    # A generator that covers half the space: precision stays, recall and coverage drop.
    half = rng.normal(size=(600, 5))
    half[:, 0] = np.abs(half[:, 0])
    m = coverage_metrics(real, half)
    assert m["precision"] > 0.9
    assert 0.35 < m["coverage"] < 0.75 and m["recall"] < 0.8
    # Far away: nothing is covered.
    assert coverage_metrics(real, real + 10.0) == {
        "precision": 0.0,
        "recall": 0.0,
        "density": 0.0,
        "coverage": 0.0,
    }
    collapsed = coverage_metrics(real, real[:1] + 1e-4 * rng.normal(size=(600, 5)))
    assert collapsed["coverage"] < 0.02 and collapsed["recall"] < 0.02


def test_user_errors_are_typed(rng):
    emb = WindowEmbedding().fit(rng.normal(size=(10, 3, 64)))
    with pytest.raises(DataError) as err:
        emb.transform(rng.normal(size=(10, 2, 64)))
    assert err.value.field == "X"
    with pytest.raises(DataError, match="like the real"):
        emb.transform(rng.normal(size=(10, 3, 32)))
    with pytest.raises(ImusynthError) as err:
        coverage_metrics(rng.normal(size=(5, 2)), rng.normal(size=(50, 2)), k=5)
    assert err.value.field == "real_feats"
    with pytest.raises(DataError) as err:
        coverage_metrics(rng.normal(size=(50, 2)), rng.normal(size=(50, 3)))
    assert err.value.field == "fake_feats"
    with pytest.raises(DataError) as err:
        WindowEmbedding(variance=1.5).fit(rng.normal(size=(10, 3, 64)))
    assert err.value.field == "variance"
    with pytest.raises(RuntimeError):
        WindowEmbedding().transform(rng.normal(size=(10, 3, 64)))

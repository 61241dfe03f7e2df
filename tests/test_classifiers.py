"""Classifiers learn a trivially separable toy problem, deterministically, sklearn-style."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_validate

from imusynth.errors import ConfigError, DataError
from imusynth.models.classifiers import FridAdarCNN, build_classifier_net
from imusynth.models.features import FeatureRandomForest, feature_names, window_features
from imusynth.train.classifiers import CNNClassifier
from imusynth.train.classify import group_validation_split


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # On a shared, oversubscribed CPU, OpenMP threads spin-wait on each other: one thread is
    # 5-30x faster for these tiny nets. Restored after the module.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


FAST = {"epochs": 8, "batch_size": 16, "lr": 3e-3, "val_fraction": 0.0}


def toy_windows(n_per_class: int = 24, t: int = 32, seed: int = 0):
    """Three classes told apart by the offset of channel 0 and the frequency of channel 1."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    time = np.arange(t) / t
    X = 0.3 * rng.normal(size=(len(y), 3, t))
    X[:, 0] += (y - 1)[:, None] * 2.0
    X[:, 1] += np.sin(2 * np.pi * (1 + 3 * y)[:, None] * time)
    groups = np.tile(np.repeat(["s1", "s2", "s3", "s4"], n_per_class // 4), 3)
    return X.astype(np.float32), y, groups


@pytest.mark.parametrize("arch", ["frid_adar", "resnet"])
def test_cnn_learns_separable_toy_problem(arch):
    X, y, _ = toy_windows()
    Xt, yt, _ = toy_windows(seed=1)
    params = {**FAST, "width": 8} if arch == "resnet" else FAST
    clf = CNNClassifier(arch, random_state=0, **params).fit(X, y)
    assert clf.score(Xt, yt) >= 0.9
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(yt), 3) and np.allclose(proba.sum(1), 1.0)


def test_cnn_is_deterministic_and_leaves_global_rng_alone():
    X, y, _ = toy_windows(n_per_class=12)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = CNNClassifier(random_state=7, **FAST).fit(X, y).predict_proba(X)
    after = torch.rand(1)
    b = CNNClassifier(random_state=7, **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(before, after)  # fit forked the global RNG and restored it
    c = CNNClassifier(random_state=8, **FAST).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_cnn_keeps_string_labels_and_embeds():
    X, y, _ = toy_windows(n_per_class=12)
    names = np.array(["PEN", "ABD", "FEL"])[y]
    clf = CNNClassifier(random_state=0, **FAST).fit(X, names)
    assert list(clf.classes_) == ["ABD", "FEL", "PEN"]
    assert set(clf.predict(X)) <= set(names)
    assert clf.transform(X).shape == (len(X), 256)
    assert np.array_equal(clf.embed(X), clf.transform(X))


def test_cnn_2d_images():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 16)
    X = rng.normal(size=(32, 1, 16, 16)).astype(np.float32)
    X[y == 1, :, 4:12, 4:12] += 2.0  # a bright square tells class 1
    clf = CNNClassifier("frid_adar", random_state=0, **FAST).fit(X, y)
    assert clf.score(X, y) >= 0.9


def test_frid_adar_layer_sizes_match_the_paper():
    net = FridAdarCNN(1, 3, (64, 64))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert net.dense[1].in_features == 128 * 8 * 8 and net.dense[1].out_features == 256
    assert net.drop.p == 0.5


def test_early_stopping_holds_out_whole_subjects():
    X, y, groups = toy_windows()
    clf = CNNClassifier(random_state=0, **{**FAST, "val_fraction": 0.25, "patience": 2})
    clf.fit(X, y, groups=groups)
    h = clf.history_
    assert len(h.val_loss) == len(h.train_loss) and 0 <= h.best_epoch < len(h.train_loss)
    assert h.val_loss[h.best_epoch] == min(h.val_loss)
    tr, va = group_validation_split(y, groups, 0.25, np.random.default_rng(0))
    assert set(groups[tr]).isdisjoint(groups[va]) and len(set(groups[va])) == 1


def test_validation_split_without_groups_is_stratified():
    y = np.repeat([0, 1, 2], 10)
    tr, va = group_validation_split(y, None, 0.2, np.random.default_rng(0))
    assert np.bincount(y[va]).tolist() == [2, 2, 2] and len(tr) == 24


def test_augment_callback_sees_raw_batches():
    X, y, _ = toy_windows(n_per_class=8)
    seen = []

    def augment(xb, rng):
        seen.append((xb.shape, float(np.abs(xb[:, 0]).mean())))
        return xb + rng.normal(0, 0.01, size=xb.shape)

    CNNClassifier(random_state=0, augment=augment, **{**FAST, "epochs": 2}).fit(X, y)
    assert len(seen) == 2 * int(np.ceil(len(X) / FAST["batch_size"]))
    assert seen[0][0][1:] == (3, 32)
    assert np.mean([m for _, m in seen]) > 0.8  # offsets of +-2 g survive: not normalised yet


def test_class_weight_balanced_weights():
    clf = CNNClassifier(class_weight="balanced")
    clf.classes_ = np.array([0, 1])
    np.testing.assert_allclose(clf._class_weights(np.array([0, 0, 0, 1])), [4 / 6, 4 / 2])


def test_cnn_works_in_sklearn_cross_validate():
    X, y, groups = toy_windows(n_per_class=12)
    clf = CNNClassifier(random_state=0, **{**FAST, "epochs": 4})
    assert clone(clf).get_params()["epochs"] == 4
    cv = cross_validate(clf, X, y, groups=groups, cv=GroupKFold(2), params={"groups": groups})
    assert cv["test_score"].mean() > 0.8


def test_bad_inputs_raise_typed_errors():
    X, y, _ = toy_windows(n_per_class=4)
    with pytest.raises(ConfigError):
        CNNClassifier("vgg").fit(X, y)
    with pytest.raises(DataError):
        CNNClassifier(**FAST).fit(X[:, 0], y)
    with pytest.raises(DataError):
        CNNClassifier(**FAST).fit(X, y[:-1])
    with pytest.raises(DataError):
        CNNClassifier(**FAST).fit(X, np.zeros(len(X)))
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError):
        CNNClassifier(**FAST).fit(bad, y)
    with pytest.raises(DataError):
        build_classifier_net("resnet", 1, 2, (16, 16))


# -- features and the random forest --------------------------------------------------------
def test_window_features_known_values():
    t = np.arange(200)
    x = np.stack([np.full(200, 2.0), np.sin(2 * np.pi * t / 20), np.cos(2 * np.pi * t / 20)])
    F = window_features(x[None], triplets=[(0, 1, 2)])
    f = dict(zip(feature_names(3, ["c", "s", "k"], triplets=[(0, 1, 2)]), F[0], strict=True))
    assert f["c_mean"] == pytest.approx(2.0) and f["c_std"] == pytest.approx(0.0, abs=1e-6)
    assert f["s_rms"] == pytest.approx(np.sqrt(0.5), rel=1e-4)
    assert f["s_zcr"] == pytest.approx(20 / 199, abs=0.011)  # two crossings per 20-sample period
    assert f["s_acf10"] == pytest.approx(-1.0, abs=0.06)  # half a period
    assert f["|c,s,k|_mean"] == pytest.approx(np.sqrt(5.0), rel=1e-5)
    assert f["corr_s_k"] == pytest.approx(0.0, abs=1e-6)
    # 2.5 cycles per 50 samples: most energy in the band 0.08-0.16 of Nyquist (0.1).
    bands = [k for k in f if k.startswith("s_band")]
    assert max(bands, key=f.get) == "s_band0.08-0.16"
    assert np.isfinite(F).all()


def test_feature_random_forest_learns_and_is_deterministic():
    X, y, _ = toy_windows()
    Xt, yt, _ = toy_windows(seed=1)
    a = FeatureRandomForest(n_estimators=30, random_state=0).fit(X, y)
    b = FeatureRandomForest(n_estimators=30, random_state=0).fit(X, y)
    assert a.score(Xt, yt) >= 0.95
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert a.transform(Xt).shape == (len(Xt), len(feature_names(3)))


def test_feature_random_forest_hands_its_parameters_to_the_forest():
    X, y, _ = toy_windows()
    params = dict(
        n_estimators=7,
        max_features=2,
        min_samples_leaf=3,
        class_weight="balanced",
        random_state=5,
        n_jobs=1,
    )
    clf = FeatureRandomForest(triplets=None, **params).fit(X, y)
    forest = clf.forest_.get_params()
    assert {k: forest[k] for k in params} == params
    assert "triplets" not in forest


def test_rows_without_subject_are_never_validated_on():
    from imusynth.train.classify import group_validation_split

    groups = np.array(["a"] * 5 + ["b"] * 5 + [""] * 20)
    y = np.arange(30) % 2
    for seed in range(5):
        train, val = group_validation_split(y, groups, 0.5, np.random.default_rng(seed))
        assert set(groups[val]) in ({"a"}, {"b"})
        assert np.all(np.isin(np.flatnonzero(groups == ""), train))


def test_old_estimator_path_is_a_deprecated_alias():
    import imusynth.models.classifiers as old

    with pytest.warns(DeprecationWarning, match="imusynth.train.classifiers"):
        assert old.CNNClassifier is CNNClassifier

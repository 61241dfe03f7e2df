"""Liver-lesion phantoms: counts, range, patient structure, class statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imusynth.data.phantoms import PHANTOM_CLASSES, make_liver_phantoms
from imusynth.errors import ConfigError


@pytest.fixture(scope="module")
def phantoms() -> dict:
    return make_liver_phantoms(rng=np.random.default_rng(0))


def test_counts_shapes_and_range(phantoms):
    X, y = phantoms["X"], phantoms["y"]
    assert X.shape == (182, 1, 64, 64) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [53, 64, 65]
    assert phantoms["classes"] == PHANTOM_CLASSES == ("cyst", "metastasis", "hemangioma")
    assert X.min() >= -1.0 and X.max() <= 1.0
    assert X.min() < -0.5 and X.max() > 0.5  # the window is used, not a sliver of it
    assert phantoms["masks"].shape == (182, 64, 64) and phantoms["masks"].dtype == bool


def test_patient_groups(phantoms):
    groups, y = phantoms["groups"], phantoms["y"]
    assert groups.shape == (182,) and all(isinstance(g, str) for g in groups.tolist())
    ids, counts = np.unique(groups, return_counts=True)
    assert len(ids) == 60 and counts.min() >= 1  # every patient has a lesion
    assert counts.max() > 1

    # Lesions cluster by class within patients: more single-class patients than if the
    # labels were shuffled over the same lesions.
    def purity(labels):
        return np.mean([len(set(labels[groups == g])) == 1 for g in ids[counts > 1]])

    rng = np.random.default_rng(0)
    shuffled = np.mean([purity(rng.permutation(y)) for _ in range(50)])
    assert purity(y) > 1.5 * shuffled


def _lesion_stats(X: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    core = np.stack([ndimage.binary_erosion(m, iterations=3) for m in masks])
    ring = np.stack(
        [
            ndimage.binary_dilation(m, iterations=6) & ~ndimage.binary_dilation(m, iterations=2)
            for m in masks
        ]
    )
    img = X[:, 0]
    return {
        "contrast": np.array(
            [x[c].mean() - x[r].mean() for x, c, r in zip(img, core, ring, strict=True)]
        ),
        "inner_sd": np.array([x[c].std() for x, c in zip(img, core, strict=True)]),
        "p95": np.array([np.percentile(x[m], 95) for x, m in zip(img, masks, strict=True)]),
    }


def test_class_statistics_differ_in_documented_direction(phantoms):
    stats = _lesion_stats(phantoms["X"], phantoms["masks"])
    y = phantoms["y"]
    mean = {k: {c: v[y == c].mean() for c in range(3)} for k, v in stats.items()}
    cyst, met, hem = 0, 1, 2
    # Cysts: the darkest lesions against the parenchyma, and homogeneous inside.
    assert mean["contrast"][cyst] < mean["contrast"][met] - 0.1
    assert mean["contrast"][cyst] < mean["contrast"][hem] - 0.1
    assert mean["inner_sd"][cyst] < mean["inner_sd"][met] - 0.02
    assert mean["inner_sd"][cyst] < mean["inner_sd"][hem] - 0.02
    # Hemangiomas: bright peripheral nodules make the brightest lesion pixels.
    assert mean["p95"][hem] > mean["p95"][met] + 0.1
    assert mean["p95"][hem] > mean["p95"][cyst] + 0.1
    # ... but the classes overlap: no single statistic separates two classes cleanly.
    for k in stats:
        for a, b in ((cyst, met), (met, hem)):
            lo, hi = sorted([stats[k][y == a], stats[k][y == b]], key=np.mean)
            assert hi.min() < lo.max()


def test_lesions_visible_against_parenchyma(phantoms):
    stats = _lesion_stats(phantoms["X"], phantoms["masks"])
    assert np.mean(stats["contrast"] < 0) > 0.8  # hypodense lesions, as in portal phase


def test_deterministic_given_rng():
    a = make_liver_phantoms((3, 2, 4), n_patients=5, size=32, rng=np.random.default_rng(5))
    b = make_liver_phantoms((3, 2, 4), n_patients=5, size=32, rng=np.random.default_rng(5))
    c = make_liver_phantoms((3, 2, 4), n_patients=5, size=32, rng=np.random.default_rng(6))
    assert a["X"].shape == (9, 1, 32, 32)
    np.testing.assert_array_equal(a["X"], b["X"])
    np.testing.assert_array_equal(a["groups"], b["groups"])
    assert not np.array_equal(a["X"], c["X"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_per_class": (1, 2)}, "n_per_class"),
        ({"n_per_class": (0, 0, 0)}, "n_per_class"),
        ({"n_per_class": (2, 2, 2), "n_patients": 7}, "n_patients"),
        ({"n_per_class": (2, 2, 2), "n_patients": 0}, "n_patients"),
        ({"size": 8}, "size"),
    ],
)
def test_bad_arguments(kwargs, field):
    with pytest.raises(ConfigError) as err:
        make_liver_phantoms(**kwargs, rng=np.random.default_rng(0))
    assert err.value.field == field


def test_rng_required():
    with pytest.raises(ConfigError, match="rng"):
        make_liver_phantoms((1, 1, 1), n_patients=1, rng=0)

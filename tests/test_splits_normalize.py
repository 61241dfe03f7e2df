"""Group-wise splits never leak a subject; the normaliser fits on what it is given."""

from __future__ import annotations

import numpy as np
import pytest

from imusynth.data import ChannelNormalizer, check_disjoint, leave_k_subjects_out, subject_kfold
from imusynth.errors import DataError


def test_subject_kfold_partitions_subjects():
    groups = np.repeat([str(i) for i in range(1, 11)], 17)
    folds = subject_kfold(groups, n_splits=5, seed=3)
    tested = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
        assert len(set(groups[test])) == 2
        tested += list(set(groups[test]))
    assert sorted(tested) == sorted(set(groups))  # every subject tested exactly once
    again = subject_kfold(groups, n_splits=5, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    with pytest.raises(DataError):
        subject_kfold(groups, n_splits=11)


def test_leave_k_subjects_out():
    groups = np.repeat(list("abcdef"), 3)
    splits = leave_k_subjects_out(groups, k=2, n_repeats=4, seed=0)
    assert len(splits) == 4
    for train, test in splits:
        assert len(set(groups[test])) == 2
        check_disjoint(groups[train], groups[test])


def test_check_disjoint_names_shared_subjects():
    with pytest.raises(DataError, match="share subject"):
        check_disjoint(np.array(["1", "2"]), np.array(["2", "3"]))


def test_normaliser_fit_transform_inverse(rng):
    X = rng.normal([[5.0], [-2.0]], [[3.0], [0.5]], size=(40, 2, 30)).astype(np.float32)
    norm = ChannelNormalizer().fit(X)
    np.testing.assert_allclose(norm.mean_, [5.0, -2.0], atol=0.2)
    Z = norm.transform(X)
    np.testing.assert_allclose(Z.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=(0, 2)), 1, atol=1e-4)
    np.testing.assert_allclose(norm.inverse_transform(Z), X, atol=1e-4)
    # statistics come from the fit data only: a shifted test set stays shifted
    assert norm.transform(X + 3.0)[:, 0].mean() == pytest.approx(1.0, abs=0.1)
    clone = ChannelNormalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(clone.transform(X), Z)
    with pytest.raises(DataError, match="channels"):
        norm.transform(X[:, :1])
    with pytest.raises(RuntimeError, match="not fitted"):
        ChannelNormalizer().transform(X)

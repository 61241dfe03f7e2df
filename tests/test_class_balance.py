"""``train.class_balance``: batches that show the rare classes of an imbalanced set as often
as the others, and a default that leaves the batches exactly as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imusynth.errors import ConfigError
from imusynth.gan import train_run
from imusynth.train.config import load_config
from imusynth.train.loaders import class_weights, epoch_loader
from tests.conftest import TINY_MODEL

Y = np.array([0] * 90 + [1] * 10)  # a 9:1 imbalance


def _label_share(weights, epochs=20):
    make = epoch_loader(torch.zeros(len(Y), 1), torch.as_tensor(Y), batch_size=10, seed=0,
                        weights=weights)  # fmt: skip
    labels = torch.cat([b[1] for e in range(epochs) for b in make(e)])
    return float((labels == 1).float().mean()), len(labels)


def test_full_balance_draws_the_rare_class_as_often_as_the_common_one():
    share, n = _label_share(class_weights(Y, 1.0))
    assert n == 20 * len(Y)  # an epoch still has len(data) samples
    assert 0.45 < share < 0.55


def test_half_balance_lies_between_the_data_and_equal_classes():
    share, _ = _label_share(class_weights(Y, 0.5))  # weights 1/sqrt(n): 10/sqrt(10) of 90/sqrt(90)
    assert 0.20 < share < 0.30


def test_no_balance_is_the_plain_shuffle_it_was():
    assert class_weights(Y, 0.0) is None
    make = epoch_loader(torch.arange(len(Y)), batch_size=10, seed=3)
    seen = torch.cat([b[0] for b in make(0)])
    assert sorted(seen.tolist()) == list(range(len(Y)))  # every window once per epoch
    gen = torch.Generator().manual_seed(3)
    assert seen.tolist() == torch.randperm(len(Y), generator=gen).tolist()


def test_the_same_seed_gives_the_same_balanced_batches():
    w = class_weights(Y, 1.0)
    a = epoch_loader(torch.arange(len(Y)), batch_size=10, seed=1, weights=w)
    b = epoch_loader(torch.arange(len(Y)), batch_size=10, seed=1, weights=w)
    assert [x[0].tolist() for x in a(4)] == [x[0].tolist() for x in b(4)]


def test_bad_weights_and_values_are_refused():
    with pytest.raises(ConfigError):
        epoch_loader(torch.zeros(4, 1), batch_size=2, seed=0, weights=np.ones(3))
    for bad in ("-0.5", "1.5"):
        with pytest.raises(ConfigError) as info:
            load_config(None, [f"train.class_balance={bad}"])
        assert info.value.field == "train.class_balance"


def test_a_window_gan_trains_with_balanced_batches(tiny_windows):
    cfg = load_config(None, [*TINY_MODEL, "train.steps=3", "train.batch_size=8",
                             "train.class_balance=1"])  # fmt: skip
    assert train_run(cfg, tiny_windows, None, device="cpu", plots=False).step == 3

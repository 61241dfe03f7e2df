"""MSGAN's mode-seeking term: what it rewards, and that training with it runs."""

from __future__ import annotations

import pytest
import torch

from imusynth.errors import ConfigError
from imusynth.gan import train_run
from imusynth.train.config import load_config
from imusynth.train.losses import mode_seeking_loss
from tests.conftest import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "train.steps=3",
    "train.batch_size=8",
]


def test_collapsed_outputs_cost_more_than_spread_ones():
    z = torch.randn(6, 4)
    same = torch.ones(6, 6, dtype=torch.bool)
    spread = torch.cat([z, z], dim=1)  # outputs as far apart as their latents
    collapsed = spread.mean(0, keepdim=True).repeat(6, 1) + 0.01 * spread
    assert mode_seeking_loss(collapsed, z, same) > 10 * mode_seeking_loss(spread, z, same)


def test_only_pairs_with_the_same_condition_count():
    z = torch.randn(4, 3)
    fake = torch.randn(4, 5)
    labels = torch.tensor([0, 0, 1, 2])
    same = labels[:, None] == labels[None, :]
    far = fake.clone()
    far[2:] += 100.0  # the lone samples of classes 1 and 2 change; pair (0, 1) does not
    assert mode_seeking_loss(far, z, same) == pytest.approx(float(mode_seeking_loss(fake, z, same)))
    none = torch.eye(4, dtype=torch.bool)  # nobody shares a condition
    assert float(mode_seeking_loss(fake, z, none)) == 0.0


def test_training_with_the_term_runs_and_a_negative_weight_is_refused(tiny_windows):
    cfg = load_config(None, [*TINY, "train.mode_seeking=1.0"])
    assert train_run(cfg, tiny_windows, None, device="cpu", plots=False).step == 3
    with pytest.raises(ConfigError) as info:
        load_config(None, ["train.mode_seeking=-1"])
    assert info.value.field == "train.mode_seeking"

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


def test_the_cap_stops_the_push_once_synthetic_pairs_differ_more_than_real_ones():
    torch.manual_seed(0)
    z = torch.randn(8, 4)
    same = torch.ones(8, 8, dtype=torch.bool)
    real = torch.randn(8, 20)
    # Half as spread as the real windows: the cap (1x real) does not bind, the push stays.
    narrow = (0.5 * real).requires_grad_(True)
    loss = mode_seeking_loss(narrow, z, same, real=real, cap=1.0)
    assert loss.item() == pytest.approx(float(mode_seeking_loss(narrow.detach(), z, same)))
    loss.backward()
    assert narrow.grad.abs().sum() > 0
    # Twice as spread: capped at the real spread, and no gradient pushes them further apart.
    wide = (2.0 * real).requires_grad_(True)
    capped = mode_seeking_loss(wide, z, same, real=real, cap=1.0)
    assert capped.item() == pytest.approx(float(mode_seeking_loss(real, z, same)))
    capped.backward()
    assert float(wide.grad.abs().sum()) == 0.0
    # A looser cap lets the same windows count further.
    assert float(mode_seeking_loss(wide.detach(), z, same, real=real, cap=3.0)) < capped.item()


def test_training_with_a_capped_term_runs_and_a_negative_cap_is_refused(tiny_windows):
    cfg = load_config(None, [*TINY, "train.mode_seeking=1.0", "train.mode_seeking_cap=1.0"])
    assert train_run(cfg, tiny_windows, None, device="cpu", plots=False).step == 3
    with pytest.raises(ConfigError) as info:
        load_config(None, ["train.mode_seeking_cap=-0.5"])
    assert info.value.field == "train.mode_seeking_cap"

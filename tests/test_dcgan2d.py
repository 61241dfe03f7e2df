"""DCGAN 64x64: shapes, initialisation, and a few steps through the shared GAN loop."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from imusynth.errors import ConfigError
from imusynth.models.dcgan2d import DCGANDiscriminator2d, DCGANGenerator2d, build_dcgan2d


def test_unconditional_shapes():
    g, d = build_dcgan2d(g_width=8, d_width=8)
    assert g.latent_dim == 100 and g.num_classes == 0
    x = g(torch.randn(3, 100), None)
    assert x.shape == (3, 1, 64, 64)
    assert x.abs().max() <= 1.0  # tanh output, the [-1, 1] range of the ROIs
    out = d(x, None)
    assert isinstance(out, torch.Tensor) and out.shape == (3,)


def test_acgan_shapes_and_condition():
    g, d = build_dcgan2d(num_classes=3, g_width=8, d_width=8)
    assert g.num_classes == 3
    z = torch.randn(2, 100)
    a = g.eval()(z, torch.tensor([0, 0]))
    b = g(z, torch.tensor([2, 2]))
    assert a.shape == (2, 1, 64, 64) and not torch.allclose(a, b)  # the class matters
    adv, cls = d(a, torch.tensor([0, 0]))
    assert adv.shape == (2,) and cls.shape == (2, 3)
    with pytest.raises(ValueError, match="conditional"):
        g(z, None)


def test_minibatch_std_variant():
    d = DCGANDiscriminator2d(num_classes=3, width=4, minibatch_std=True)
    x = torch.randn(4, 1, 64, 64)
    adv, cls = d(x)
    assert adv.shape == (4,) and cls.shape == (4, 3)
    # The batch-stddev channel couples samples: one sample's logit depends on the others.
    other = x.clone()
    other[1:] = 0
    assert not torch.allclose(d.eval()(x)[0][0], d(other)[0][0])


def test_paper_sized_first_map_and_layers():
    g = DCGANGenerator2d()  # width 128: 4x4x1024 as in Radford et al. / Frid-Adar et al.
    assert g.project.out_features == 4 * 4 * 1024
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 4 and all(m.kernel_size == (5, 5) and m.stride == (2, 2) for m in ups)
    d = DCGANDiscriminator2d(width=8)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(m.kernel_size == (5, 5) and m.stride == (2, 2) for m in convs)
    assert not isinstance(d.net[1], nn.BatchNorm2d)  # no BatchNorm on the input layer
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator2d(batchnorm=False).modules()
    )


def test_dcgan_init_and_seeding():
    state = torch.random.get_rng_state()
    g, d = build_dcgan2d(g_width=32, d_width=32, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    g2, _ = build_dcgan2d(g_width=32, d_width=32, seed=3)
    assert torch.equal(g.project.weight, g2.project.weight)
    assert g.project.weight.std().item() == pytest.approx(0.02, rel=0.05)
    conv = d.net[2].weight  # 32 -> 64 channels, 5x5
    assert conv.std().item() == pytest.approx(0.02, rel=0.05)
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="num_classes"):
        DCGANDiscriminator2d(num_classes=1)
    with pytest.raises(ConfigError, match="width"):
        DCGANGenerator2d(width=0)
    with pytest.raises(ValueError, match="64"):
        DCGANDiscriminator2d(width=4)(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="z"):
        DCGANGenerator2d(width=4)(torch.zeros(1, 10))


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("num_classes", [0, 3])
def test_fit_gan_steps_change_weights(num_classes):
    loop = pytest.importorskip("imusynth.train.loop")
    from imusynth.train.config import TrainConfig

    torch_gen = torch.Generator().manual_seed(0)
    X = torch.rand(16, 1, 64, 64, generator=torch_gen) * 2 - 1
    y = torch.arange(16) % 3
    g, d = build_dcgan2d(num_classes, g_width=4, d_width=4, seed=0)
    before_g, before_d = _params(g), _params(d)
    tensors = (X, y) if num_classes else (X,)
    cfg = TrainConfig(loss="bce", steps=3, batch_size=8, log_every=1, seed=0)
    state = loop.fit_gan(g, d, loop.epoch_loader(*tensors, batch_size=8, seed=0), cfg)
    assert state.step == 3 and len(state.history) == 3
    assert all(
        math.isfinite(row["d_loss"]) and math.isfinite(row["g_loss"]) for row in state.history
    )
    assert all(not torch.equal(a, b) for a, b in zip(before_g, _params(g), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, _params(d), strict=True))
    if num_classes:
        assert state.history[-1]["ac_d"] > 0  # the auxiliary classifier is trained
    samples = state.ema.eval()(torch.randn(2, 100), torch.tensor([0, 1]) if num_classes else None)
    assert samples.shape == (2, 1, 64, 64)

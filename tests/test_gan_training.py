"""The GAN loop: losses, updates, 2D models, exact resume, NaN guard, checkpoints, configs."""

from __future__ import annotations

import csv
import logging
import math

import pytest
import torch
from torch import nn

from imusynth.config import BUNDLED_DIR
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from imusynth.train.config import (
    GANConfig,
    ModelConfig,
    TrainConfig,
    apply_overrides,
    config_to_toml,
    load_config,
)
from imusynth.train.loop import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    Callback,
    DivergenceError,
    epoch_loader,
    fit_gan,
    random_shift,
)
from imusynth.train.losses import (
    bce_d_loss,
    bce_g_loss,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    r1_penalty,
    wgan_d_loss,
    wgan_g_loss,
)

# ----------------------------------------------------------------------------- losses


def test_bce_losses_on_known_logits():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])
    expect_d = (math.log(2) + math.log1p(math.exp(-2))) / 2 + (
        math.log(2) + math.log1p(math.exp(-1))
    ) / 2
    assert float(bce_d_loss(real, fake)) == pytest.approx(expect_d, rel=1e-6)
    # Non-saturating: -log sigmoid(fake), large when D rejects the fake.
    assert float(bce_g_loss(torch.tensor([-3.0]))) == pytest.approx(
        math.log1p(math.exp(3)), rel=1e-6
    )
    # Logits of 100 must not overflow to inf.
    assert math.isfinite(float(bce_d_loss(torch.tensor([-100.0]), torch.tensor([100.0]))))


def test_hinge_and_wgan_losses_on_known_logits():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert float(hinge_d_loss(real, fake)) == pytest.approx((0 + 0.5) / 2 + (0 + 1.5) / 2)
    assert float(hinge_g_loss(fake)) == pytest.approx(0.75)
    assert float(wgan_d_loss(real, fake)) == pytest.approx(-0.75 - 1.25)
    assert float(wgan_g_loss(fake)) == pytest.approx(0.75)


def test_gradient_penalty_and_r1_on_a_linear_critic():
    w = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # D(x) = sum(w * x): gradient norm 5

    def critic(x, y=None):
        return (x * w).flatten(1).sum(1)

    real, fake = torch.randn(6, 2, 2), torch.randn(6, 2, 2)
    gen = torch.Generator().manual_seed(0)
    assert float(gradient_penalty(critic, real, fake, None, generator=gen)) == pytest.approx(16.0)
    x = real.clone().requires_grad_(True)
    assert float(r1_penalty(critic(x), x)) == pytest.approx(25.0)


# ----------------------------------------------------------------------------- loop


def _data(n=48, c=3, t=32, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    X = torch.randn(n, c, t, generator=g) * 0.5 + y[:, None, None].float()
    return X, y


def _models(c=3, t=32, k=2, ac=False, seed=0):
    torch.manual_seed(seed)
    g = Conv1dGenerator(c, t, k, latent_dim=8, embed_dim=8, width=32, n_blocks=2)
    d = ProjectionDiscriminator1d(c, k, width=8, n_blocks=2, ac_head=ac)
    return g, d


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.mark.parametrize(
    "overrides",
    [
        dict(loss="bce"),
        dict(loss="hinge", r1_weight=1.0, instance_noise=0.1, augment_shift=0.25),
        dict(loss="wgan-gp", n_critic=2, beta1=0.0, beta2=0.9),
    ],
)
def test_a_few_steps_change_the_weights_and_keep_losses_finite(overrides):
    X, y = _data()
    g, d = _models(ac="bce" == overrides["loss"])
    g0, d0 = _flat(g), _flat(d)
    cfg = TrainConfig(steps=3, batch_size=16, log_every=1, **overrides)
    state = fit_gan(g, d, epoch_loader(X, y, batch_size=16, seed=0), cfg)
    assert state.step == 3 and len(state.history) == 3
    for row in state.history:
        assert all(math.isfinite(v) for v in row.values())
    assert not torch.equal(g0, _flat(g)) and not torch.equal(d0, _flat(d))
    # The EMA generator trails the trained one: it moved, but not all the way.
    assert not torch.equal(_flat(state.ema), _flat(g)) and not torch.equal(_flat(state.ema), g0)
    if overrides["loss"] == "bce":
        assert any(row["ac_d"] > 0 for row in state.history)  # the AC head is trained
    if overrides["loss"] != "bce":
        assert any(row["d_penalty"] > 0 for row in state.history)


def test_without_a_bar_the_log_says_the_pace_every_tenth_of_the_run(tmp_path, caplog):
    X, y = _data()
    g, d = _models()
    cfg = TrainConfig(steps=20, batch_size=16, log_every=5, checkpoint_every=0)
    loader = epoch_loader(X, y, batch_size=16, seed=0)
    with caplog.at_level(logging.INFO, logger="imusynth.train.loop"):
        fit_gan(g, d, loader, cfg, out_dir=tmp_path / "run-a", progress=False)
    pace = [r.getMessage() for r in caplog.records if "steps/s" in r.getMessage()]
    assert [m.split(",")[0] for m in pace] == [f"run-a: step {k}/20" for k in range(2, 20, 2)]
    assert all(m.endswith(("min left", "under a minute left")) for m in pace)


def test_random_shift_rolls_each_sample_within_the_limit():
    x = torch.arange(40.0).view(4, 1, 10).repeat(1, 2, 1)  # (B, C, T), channels equal
    out = random_shift(x, 0.2, torch.Generator().manual_seed(0))
    for b in range(4):
        shifts = [k for k in range(-2, 3) if torch.equal(out[b], torch.roll(x[b], k, dims=-1))]
        assert len(shifts) == 1  # a circular shift of at most 2 samples, same for all channels
    img = torch.arange(2 * 16.0).view(2, 1, 4, 4)
    out = random_shift(img, 0.5, torch.Generator().manual_seed(0))
    assert out.shape == img.shape
    assert torch.equal(out.flatten(1).sort(dim=1).values, img.flatten(1))


def test_unconditional_batches_without_labels():
    X, _ = _data()
    torch.manual_seed(0)
    g = Conv1dGenerator(3, 32, 0, latent_dim=8, width=32, n_blocks=2)
    d = ProjectionDiscriminator1d(3, 0, width=8, n_blocks=2)
    loader = torch.utils.data.DataLoader(X, batch_size=16, shuffle=False)  # batches of x only
    state = fit_gan(g, d, loader, TrainConfig(steps=4, batch_size=16, log_every=2))
    assert state.step == 4 and state.epoch == 1  # 3 batches per epoch: wrapped once


class _TinyImageG(nn.Module):
    """A 2D generator in the DCGAN style, to show the loop is modality-agnostic."""

    def __init__(self, num_classes: int = 3, latent_dim: int = 8) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.fc = nn.Linear(latent_dim, 8 * 4 * 4)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z, y):
        h = self.fc(z * self.embed(y)).view(-1, 8, 4, 4)  # (B, 8, 4, 4)
        return self.up(h)  # (B, 1, 16, 16)


class _TinyImageD(nn.Module):
    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten())
        self.adv = nn.Linear(8 * 8 * 8, 1)
        self.cls = nn.Linear(8 * 8 * 8, num_classes)

    def forward(self, x, y):
        h = self.net(x)  # (B, 512)
        return self.adv(h).squeeze(1), self.cls(h)  # AC-GAN tuple output


def test_the_same_loop_trains_a_2d_acgan():
    torch.manual_seed(0)
    X = torch.rand(24, 1, 16, 16) * 2 - 1
    y = torch.arange(24) % 3
    g, d = _TinyImageG(), _TinyImageD()
    w0 = _flat(g)
    state = fit_gan(
        g, d, epoch_loader(X, y, batch_size=8, seed=0), TrainConfig(steps=3, batch_size=8)
    )
    assert not torch.equal(w0, _flat(g))
    assert state.history[-1]["ac_d"] > 0


class _Kill(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt  # as if the process were killed right after a checkpoint


def _everything(state) -> dict[str, torch.Tensor]:
    ck = state.checkpoint()
    out = {}
    for part in ("generator", "discriminator", "ema"):
        out |= {f"{part}.{k}": v for k, v in ck[part].items()}
    for part in ("opt_g", "opt_d"):
        for i, s in ck[part]["state"].items():
            out |= {f"{part}.{i}.{k}": v for k, v in s.items() if torch.is_tensor(v)}
    return out


@pytest.mark.parametrize("loader_kind", ["factory", "dataloader"])
def test_kill_and_resume_reaches_bitwise_identical_weights(tmp_path, loader_kind):
    X, y = _data(n=40)
    # 40 windows / batch 16 = 2 batches per epoch: the kill lands mid-epoch.
    cfg = TrainConfig(
        steps=6,
        batch_size=16,
        log_every=1,
        checkpoint_every=3,
        instance_noise=0.1,
        r1_weight=0.5,
        augment_shift=0.2,
    )

    def loader():
        if loader_kind == "factory":
            return epoch_loader(X, y, batch_size=16, seed=1)
        gen = torch.Generator().manual_seed(1)
        data = torch.utils.data.TensorDataset(X, y)
        return torch.utils.data.DataLoader(
            data, batch_size=16, shuffle=True, drop_last=True, generator=gen
        )

    straight = fit_gan(*_models(), loader(), cfg, out_dir=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        fit_gan(*_models(), loader(), cfg, [_Kill(3)], out_dir=tmp_path / "b")
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)["step"] == 3
    # Fresh models with other initial weights: everything must come from the checkpoint.
    resumed = fit_gan(*_models(seed=7), loader(), cfg, out_dir=tmp_path / "b", resume=True)
    a, b = _everything(straight), _everything(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows = list(csv.DictReader((tmp_path / "b" / METRICS_NAME).read_text().splitlines()))
    assert [int(float(r["step"])) for r in rows] == [1, 2, 3, 4, 5, 6]


class _Poison(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            with torch.no_grad():
                state.generator.head.bias.fill_(float("nan"))


def test_nan_guard_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    X, y = _data()
    cfg = TrainConfig(steps=10, batch_size=16, log_every=2, checkpoint_every=2)
    with pytest.raises(DivergenceError, match="non-finite") as info:
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), cfg, [_Poison(4)],
                out_dir=tmp_path)  # fmt: skip
    assert "train.lr" in str(info.value) and CHECKPOINT_NAME in str(info.value)
    ck = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ck["step"] == 4
    assert all(torch.isfinite(v).all() for v in ck["generator"].values())


def test_too_few_windows_for_a_batch_is_a_data_error():
    X, y = _data(n=8)
    with pytest.raises(DataError, match="batch"):
        epoch_loader(X, y, batch_size=16, seed=0)


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_holds_rng_states(tmp_path):
    X, y = _data()
    state = fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), TrainConfig(steps=1))
    path = save_checkpoint(tmp_path / "c.pt", state.checkpoint())
    ck = load_checkpoint(path)
    assert ck["format"] == CHECKPOINT_FORMAT and ck["step"] == 1
    assert set(ck["rng"]) >= {"torch_cpu", "python", "loop", "numpy"}
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "corrupt"),
        (b"not a zip file at all", "corrupt"),
    ],
)
def test_corrupt_checkpoint_is_a_checkpoint_error(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_truncated_foreign_and_pickled_checkpoints_are_rejected(tmp_path):
    X, y = _data()
    state = fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), TrainConfig(steps=1))
    good = save_checkpoint(tmp_path / "good.pt", state.checkpoint())
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"format": "something-else"}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "obj": _Kill(1)}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="corrupt"):  # weights_only refuses objects
        load_checkpoint(tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_with_a_different_model_is_a_checkpoint_error(tmp_path):
    X, y = _data()
    g, d = _models()
    cfg = GANConfig(train=TrainConfig(steps=1, batch_size=16))
    fit_gan(g, d, epoch_loader(X, y, batch_size=16, seed=0), cfg, out_dir=tmp_path)
    other = apply_overrides(cfg, ["model.g_width=64"])
    with pytest.raises(CheckpointError, match="g_width"):
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), other,
                out_dir=tmp_path, resume=True)  # fmt: skip


# ----------------------------------------------------------------------------- configs


def test_config_file_and_overrides_with_type_coercion(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\ngenerator = "kinematic"\n[train]\nsteps = 7\nlr_g = 1\n')
    cfg = load_config(path, ["train.batch_size=8", "model.spectral_norm=no", "train.lr_d=1e-3",
                             "data.length=100"])  # fmt: skip
    assert cfg.model.generator == "kinematic" and cfg.train.steps == 7
    assert cfg.train.lr_g == 1.0 and isinstance(cfg.train.lr_g, float)
    assert cfg.train.batch_size == 8 and cfg.model.spectral_norm is False
    assert cfg.train.lr_d == 1e-3 and cfg.data.length == 100
    assert load_config(None, ["data.length=none"]).data.length is None
    assert cfg.model.latent_dim == ModelConfig().latent_dim  # untouched keys keep defaults


def test_config_round_trips_through_toml(tmp_path):
    cfg = load_config(None, ["train.steps=3", "model.ac_head=true", "data.windows=a b.h5"])
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg))
    assert load_config(path) == cfg


def test_the_shipped_config_loads():

    cfg = load_config(BUNDLED_DIR / "watch_cgan.toml")
    assert cfg.model.generator in ("conv1d", "kinematic")


@pytest.mark.parametrize(
    ("text", "overrides", "field"),
    [
        ("[train]\nstepz = 3\n", [], "train.stepz"),
        ("[trainer]\nsteps = 3\n", [], "trainer"),
        ('[train]\nsteps = "many"\n', [], "train.steps"),
        ("[train]\nsteps = true\n", [], "train.steps"),
        ("", ["train.loss=l2"], "train.loss"),
        ("", ["train.steps=0"], "train.steps"),
        ("", ["train.steps=ten"], "train.steps"),
        ("", ["model.spectral_norm=maybe"], "model.spectral_norm"),
        ("", ["model.nonsense=1"], "model.nonsense"),
        ("", ["steps=1"], "steps"),
        ("", ["train.lr_g=-1"], "train.lr_g"),
        ("", ["train.ema_decay=1.5"], "train.ema_decay"),
        ("[train\n", [], None),
    ],
)
def test_bad_config_is_a_config_error_naming_the_key(tmp_path, text, overrides, field):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert info.value.path == str(path)
    if field is not None:
        assert info.value.field == field
        assert field in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")

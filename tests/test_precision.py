"""train.precision (bf16/fp16 autocast) and train.compile (torch.compile) in the GAN loop.

fp16 is for CUDA; on the CPU it is a ConfigError. The fp16 tests below widen
``imusynth.train.precision``'s list of fp16 devices to the CPU, so the loss-scaling path and
its checkpoints are tested here too (CPU fp16 autocast works, only slowly). The compile
tests use Dynamo's ``eager`` backend (tracing without code generation, a few seconds)
except one, marked slow, that runs the real default backend: compiling a tiny G and D took
64 s on the shared 2-core CPU under load (that test: 36 s with a cold compiler cache on the
idle CPU); run it with ``-m slow``. benchmarks/gan_training.py --compile and
benchmarks/cuda_smoke.py cover it too.
"""

from __future__ import annotations

import functools
import logging
import math

import pytest
import torch
from torch import nn

import imusynth.train.precision as precision
from imusynth.errors import ConfigError
from imusynth.models.gan1d import Conv1dGenerator, ProjectionDiscriminator1d
from imusynth.models.kinematic import KinematicGenerator
from imusynth.train.checkpoint import load_checkpoint
from imusynth.train.config import TrainConfig, load_config
from imusynth.train.loop import CHECKPOINT_NAME, Callback, epoch_loader, fit_gan

# Dynamo reads .grad of spectral-norm weights (non-leaf tensors) while tracing; PyTorch's
# warning about it is noise, not a problem of the models.
DYNAMO_GRAD_WARNING = "ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning"


def _data(n=40, c=6, t=40, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    return torch.randn(n, c, t, generator=g) * 0.5 + y[:, None, None].float(), y


def _models(kind="conv1d", seed=0):
    torch.manual_seed(seed)
    if kind == "kinematic":
        g = KinematicGenerator(
            6, 40, 2, latent_dim=8, embed_dim=8, width=32, n_blocks=2, sensor_noise_taps=5
        )
    else:
        g = Conv1dGenerator(6, 40, 2, latent_dim=8, embed_dim=8, width=32, n_blocks=2)
    return g, ProjectionDiscriminator1d(6, 2, width=8, n_blocks=2)


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=6, batch_size=16, log_every=1, checkpoint_every=3, augment_shift=0.2)
    return TrainConfig(**(base | kw))


class _Kill(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt  # as if the process were killed right after a checkpoint


def _everything(state) -> dict[str, object]:
    ck = state.checkpoint()
    out: dict[str, object] = {}
    for part in ("generator", "discriminator", "ema"):
        out |= {f"{part}.{k}": v for k, v in ck[part].items()}
    for part in ("opt_g", "opt_d"):
        for i, s in ck[part]["state"].items():
            out |= {f"{part}.{i}.{k}": v for k, v in s.items() if torch.is_tensor(v)}
    for part, s in (ck.get("grad_scaler") or {}).items():
        out |= {f"grad_scaler.{part}.{k}": v for k, v in s.items()}
    return out


def _assert_same(a, b) -> None:
    ea, eb = _everything(a), _everything(b)
    assert ea.keys() == eb.keys()
    for key, va in ea.items():
        vb = eb[key]
        assert torch.equal(va, vb) if torch.is_tensor(va) else va == vb, key


def _kill_and_resume(tmp_path, first: TrainConfig, then: TrainConfig, kind="conv1d"):
    X, y = _data()
    with pytest.raises(KeyboardInterrupt):
        fit_gan(*_models(kind), epoch_loader(X, y, batch_size=16, seed=1), first, [_Kill(3)],
                out_dir=tmp_path)  # fmt: skip
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 3
    # Fresh models with other initial weights: everything must come from the checkpoint.
    return fit_gan(*_models(kind, seed=7), epoch_loader(X, y, batch_size=16, seed=1), then,
                   out_dir=tmp_path, resume=True)  # fmt: skip


@pytest.fixture
def fp16_on_cpu(monkeypatch):
    monkeypatch.setattr(precision, "_FP16_DEVICES", ("cuda", "cpu"))


# ----------------------------------------------------------------------------- bf16


@pytest.mark.parametrize("kind", ["conv1d", "kinematic"])
def test_bf16_on_the_cpu_trains_both_1d_generators(kind):
    X, y = _data()
    g, d = _models(kind)
    g0, d0 = _flat(g), _flat(d)
    cfg = _cfg(steps=3, precision="bf16", r1_weight=0.5, instance_noise=0.1)
    state = fit_gan(g, d, epoch_loader(X, y, batch_size=16, seed=0), cfg)
    assert state.step == 3 and len(state.history) == 3
    for row in state.history:
        assert all(math.isfinite(v) for v in row.values())
    assert any(row["d_penalty"] > 0 for row in state.history)
    assert not torch.equal(g0, _flat(g)) and not torch.equal(d0, _flat(d))
    # Weights, EMA, buffers and Adam states stay float32 under autocast.
    for t in (*state.checkpoint()["generator"].values(), *state.ema.state_dict().values()):
        assert t.dtype == torch.float32
    for opt in (state.opt_g, state.opt_d):
        for s in opt.state.values():
            assert s["exp_avg"].dtype == s["exp_avg_sq"].dtype == torch.float32
    assert "grad_scaler" not in state.checkpoint()


def test_the_kinematic_arm_runs_in_float32_under_autocast():
    g, _ = _models("kinematic")
    seen: dict[str, object] = {}
    g.trunk.register_forward_hook(lambda m, i, o: seen.__setitem__("trunk", o.dtype))
    g.arm.register_forward_hook(lambda m, i, o: seen.update(q=i[0], arm=o))
    z, y, side = torch.randn(4, g.latent_dim), torch.tensor([0, 1, 0, 1]), None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = g.forward_with_joints(z, y, side)
    assert seen["trunk"] == torch.bfloat16  # autocast was on: the trunk ran in bf16 ...
    for t in (seen["q"], seen["arm"].acc, seen["arm"].gyro):  # ... the arm did not
        assert t.dtype == torch.float32
    for t in (out.x, out.joint_angles, out.mount, out.residual):
        assert t.dtype == torch.float32
    # The arm's output is exactly what a float32 call on the same joint angles gives.
    again = g.arm(seen["q"], g.fs)
    assert torch.equal(again.acc, seen["arm"].acc) and torch.equal(again.gyro, seen["arm"].gyro)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = g(z, y)
    assert x.dtype == torch.float32  # what the discriminator and the loop get


# ----------------------------------------------------------------------------- fp32 and config


def test_an_fp32_run_is_bitwise_equal_to_one_without_the_new_keys(tmp_path):
    (tmp_path / "old.toml").write_text("[train]\nsteps = 4\nbatch_size = 16\nr1_weight = 0.5\n")
    (tmp_path / "new.toml").write_text(
        '[train]\nsteps = 4\nbatch_size = 16\nr1_weight = 0.5\nprecision = "fp32"\n'
        "compile = false\n"
    )
    X, y = _data()
    runs = []
    for name in ("old", "new"):
        cfg = load_config(tmp_path / f"{name}.toml")
        loader = epoch_loader(X, y, batch_size=16, seed=0)
        runs.append(fit_gan(*_models("kinematic"), loader, cfg, out_dir=tmp_path / name))
    _assert_same(*runs)
    assert "grad_scaler" not in load_checkpoint(tmp_path / "new" / CHECKPOINT_NAME)


def test_fp16_on_the_cpu_is_a_config_error():
    X, y = _data()
    with pytest.raises(ConfigError, match="CUDA") as err:
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), _cfg(precision="fp16"))
    assert err.value.field == "train.precision"
    with pytest.raises(ConfigError) as err:  # a TrainConfig built in code is checked too
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), _cfg(precision="FP16"))
    assert err.value.field == "train.precision"


@pytest.mark.parametrize(
    "text, overrides, field",
    [
        ("", ["train.precision=fp8"], "train.precision"),
        ("[train]\nprecision = 16\n", [], "train.precision"),
        ("", ["train.compile=maybe"], "train.compile"),
        ("[train]\ncompile = 1\n", [], "train.compile"),
    ],
)
def test_bad_precision_or_compile_is_a_config_error(tmp_path, text, overrides, field):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, overrides)
    assert err.value.field == field


def test_precision_and_compile_defaults_and_overrides():
    assert (TrainConfig().precision, TrainConfig().compile) == ("fp32", False)
    shipped = load_config("watch_cgan.toml").train
    assert (shipped.precision, shipped.compile) == ("auto", False)
    for p in ("fp32", "bf16", "fp16", "auto"):  # fp16 is only refused at fit time, on the CPU
        assert load_config(None, [f"train.precision={p}"]).train.precision == p
    assert load_config(None, ["train.compile=true"]).train.compile is True


# ----------------------------------------------------------------------------- fp16 (on the CPU)


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_fp16_kill_and_resume_is_exact_and_keeps_the_loss_scales(tmp_path, fp16_on_cpu, loss):
    X, y = _data()
    cfg = _cfg(precision="fp16", loss=loss, r1_weight=0.5 if loss == "hinge" else 0.0)
    straight = fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=1), cfg,
                       out_dir=tmp_path / "a")  # fmt: skip
    assert all(math.isfinite(v) for row in straight.history for v in row.values())
    resumed = _kill_and_resume(tmp_path / "b", cfg, cfg)
    _assert_same(straight, resumed)
    scales = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)["grad_scaler"]
    assert scales["d"]["scale"] > 1 and scales["g"]["_growth_tracker"] == 6  # 6 good G steps


@pytest.mark.parametrize(
    "first, then", [("fp32", "fp16"), ("fp32", "bf16"), ("fp16", "fp32"), ("bf16", "fp32")]
)
def test_a_checkpoint_resumes_under_another_precision(tmp_path, fp16_on_cpu, first, then):
    state = _kill_and_resume(
        tmp_path, _cfg(precision=first), _cfg(precision=then), kind="kinematic"
    )
    assert state.step == 6
    assert all(math.isfinite(v) for row in state.history for v in row.values())
    ckpt = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert ("grad_scaler" in ckpt) == (then == "fp16")
    for opt in (state.opt_g, state.opt_d):  # Adam runs fused for fp16 only, not as saved
        assert all(bool(g["fused"]) == (then == "fp16") for g in opt.param_groups)
    if first == "fp32":  # fresh scales (2**16), grown by nothing yet: 3 good G steps
        assert ckpt.get("grad_scaler", {"g": {"_growth_tracker": 3}})["g"]["_growth_tracker"] == 3


# ----------------------------------------------------------------------------- compile


@pytest.fixture
def eager_compile(monkeypatch):
    """torch.compile with Dynamo's eager backend: the loop's wiring, without codegen."""
    import torch._dynamo

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.filterwarnings(DYNAMO_GRAD_WARNING)
def test_compiled_and_uncompiled_runs_resume_from_each_others_checkpoints(tmp_path, eager_compile):
    import torch._dynamo

    X, y = _data()
    plain = _cfg(r1_weight=0.5)  # R1 differentiates D twice: that pass stays uncompiled
    compiled = _cfg(r1_weight=0.5, compile=True)
    straight = fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=1), plain)
    for n, (first, then) in enumerate([(compiled, plain), (plain, compiled)]):
        torch._dynamo.reset()
        resumed = _kill_and_resume(tmp_path / str(n), first, then)
        ckpt = load_checkpoint(tmp_path / str(n) / CHECKPOINT_NAME)
        assert not any("_orig_mod" in k for k in (*ckpt["generator"], *ckpt["discriminator"]))
        # The eager backend runs the same kernels: bitwise equal to the uncompiled run.
        _assert_same(straight, resumed)


def test_no_cxx_compiler_is_a_config_error_naming_train_compile():
    from torch._inductor import config as inductor_config

    X, y = _data()
    # (inductor's config must be patched its own way: monkeypatch would delete the key)
    with (
        inductor_config.patch({"cpp.cxx": ("imusynth-no-such-c++",)}),
        pytest.raises(ConfigError, match=r"C\+\+ compiler.*train\.compile=false") as err,
    ):
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), _cfg(compile=True))
    assert err.value.field == "train.compile"


def test_a_compiler_failure_is_a_config_error_not_a_silent_fallback(monkeypatch):
    from torch._dynamo.exc import TorchDynamoException

    def broken(module, **kw):
        def call(*args, **kwargs):
            raise TorchDynamoException("backend exploded")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    X, y = _data()
    with pytest.raises(ConfigError, match=r"backend exploded.*train\.compile=false") as err:
        fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=0), _cfg(compile=True))
    assert err.value.field == "train.compile"


@pytest.mark.slow  # the default backend compiles C++: over a minute on a shared 2-core CPU
@pytest.mark.filterwarnings(DYNAMO_GRAD_WARNING)
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_inductor_compiled_checkpoint_round_trip(tmp_path):
    import torch._dynamo

    torch._dynamo.reset()
    X, y = _data()
    plain, compiled = _cfg(), _cfg(compile=True)
    straight = fit_gan(*_models(), epoch_loader(X, y, batch_size=16, seed=1), plain)
    for n, (first, then) in enumerate([(compiled, plain), (plain, compiled)]):
        resumed = _kill_and_resume(tmp_path / str(n), first, then)
        assert resumed.step == 6
        ckpt = load_checkpoint(tmp_path / str(n) / CHECKPOINT_NAME)
        assert not any("_orig_mod" in k for k in (*ckpt["generator"], *ckpt["discriminator"]))
        # Generated code may round differently: close to the uncompiled run, not bitwise.
        for key, value in straight.generator.state_dict().items():
            torch.testing.assert_close(
                resumed.generator.state_dict()[key], value, rtol=1e-3, atol=1e-4
            )
    torch._dynamo.reset()


@pytest.mark.parametrize("avx512_bf16, amx", [(False, False), (True, False), (False, True)])
def test_auto_precision_is_bf16_only_on_a_cpu_that_computes_it_natively(
    monkeypatch, avx512_bf16, amx
):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    native = avx512_bf16 or amx
    assert precision.native_bf16("cpu") is native
    assert precision.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    amp = precision.Amp.of(TrainConfig(precision="auto"), torch.device("cpu"))
    assert (amp.dtype, amp.name) == ((torch.bfloat16, "bf16") if native else (None, "fp32"))
    # The named precisions do not depend on the machine.
    for name in ("fp32", "bf16"):
        assert precision.resolve_precision(name, "cpu") == name
        assert precision.Amp.of(TrainConfig(precision=name), torch.device("cpu")).name == name


def test_auto_precision_trains_as_what_it_resolved_to(monkeypatch, caplog):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    X, y = _data()
    states = {}
    with caplog.at_level(logging.INFO, logger="imusynth.train.loop"):
        for p in ("auto", "fp32"):
            states[p] = fit_gan(
                *_models(), epoch_loader(X, y, batch_size=16, seed=0), _cfg(precision=p)
            )
    assert "train.precision auto: fp32 on cpu" in caplog.text
    assert torch.equal(_flat(states["auto"].generator), _flat(states["fp32"].generator))

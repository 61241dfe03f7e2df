"""Precision and compilation of the GAN loop: autocast, loss scaling, ``torch.compile``.

``train.precision = "fp32"`` (the default) runs everything in float32, bitwise as before the
option existed. ``"bf16"`` (CPU or CUDA) and ``"fp16"`` (CUDA only) run the forward passes of
G and D under :func:`torch.autocast`, so their convolutions and linear layers (most of the
work) compute in 16 bits; what stays float32:

* the generator's output: the loop casts it, so the discriminator input (real and fake
  windows, shifts, instance noise) is float32 and only D's layers run in 16 bits. The
  kinematic generator runs everything after its trunk (joint and mount heads, ArmModel,
  which differentiates joint angles twice in time, the sensor noise and the normalisation)
  in float32 with autocast switched off;
* the losses: the logits are cast to float32 before the adversarial and classifier losses
  and their means (the bce softplus and the reductions are where 16 bits lose most);
* the penalties that differentiate through D twice: the R1 pass on real windows and the
  WGAN-GP pass on interpolates run D in float32 (in 16 bits the gradient norms would keep
  about 3 significant digits, and fp16 input gradients are not loss-scaled and can underflow);
* weights, gradients, Adam states, the EMA generator and the buffers.

fp16 scales each loss with a :class:`torch.amp.GradScaler` (one for D, one for G; their
states go into the checkpoint as ``"grad_scaler"``; a checkpoint without them, from an fp32
or bf16 run, resumes with fresh scalers). Adam then runs fused, so the scalers' inf check
stays on the device instead of syncing every step.

``"auto"`` is bf16 where the device computes bfloat16 natively (a CUDA GPU that does; a CPU
with AVX512-BF16 or AMX) and fp32 elsewhere: on a CPU without them bf16 autocast is emulated
and slower than fp32 (0.80x fp32's steps/s on a 2-core AVX-512 Xeon without BF16, where the
CPU of earlier measurements ran it 1.3-1.4x faster; ``benchmarks/gan_training.py
--precision fp32,bf16``). What ``"auto"`` resolved to is logged when a run starts.

``train.compile = true`` wraps G and D in :func:`torch.compile` (default mode) after they are
moved to the device; checkpoints hold the uncompiled modules' weights, so compiled and
uncompiled runs resume from each other's checkpoints. The passes that differentiate twice
(R1, WGAN-GP) call the uncompiled D, since compiled graphs support no double backward. A
machine where compilation cannot work (no C++ compiler for the CPU, no Triton for CUDA) or a
compiler failure raises :class:`~imusynth.errors.ConfigError` naming ``train.compile``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor

from imusynth.errors import ConfigError
from imusynth.runtime import resolve_device
from imusynth.train.config import PRECISIONS, TrainConfig

__all__ = [
    "Amp",
    "check_compile",
    "check_train_setup",
    "compile_config_error",
    "float_logits",
    "full",
    "is_compile_error",
    "native_bf16",
    "resolve_precision",
]


def check_train_setup(config: TrainConfig, device: str | torch.device) -> None:
    """Check that ``config`` can train on ``device``, so callers can refuse before they write.

    ``train.precision`` must be known and supported there (fp16 needs CUDA; bf16 on CUDA a
    GPU with native bfloat16) and ``train.compile`` must be able to work.

    Raises
    ------
    ConfigError
        Naming ``train.precision`` or ``train.compile``.

    Examples
    --------
    >>> check_train_setup(TrainConfig(precision="fp32"), "cpu")
    >>> try:
    ...     check_train_setup(TrainConfig(precision="fp16"), "cpu")
    ... except ConfigError as exc:
    ...     exc.field
    'train.precision'
    """
    dev = resolve_device(device)
    Amp.of(config, dev)
    if config.compile:
        check_compile(dev)


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (so bf16 autocast pays there).

    A CUDA GPU with native bfloat16; a CPU with AVX512-BF16 or AMX tiles (where torch cannot
    tell, False); nothing else.
    """
    dev = resolve_device(device)
    if dev.type == "cuda":
        return _cuda_bf16(dev)
    if dev.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``train.precision`` as a run uses it on ``device``: ``"auto"`` becomes bf16 or fp32.

    Examples
    --------
    >>> resolve_precision("fp32", "cpu")
    'fp32'
    >>> resolve_precision("auto", "cpu") in ("bf16", "fp32")
    True
    """
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


# The autocast dtype of each mixed precision (fp32: none).
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# fp16 autocast and loss scaling are for GPUs (on the CPU, fp16 convolutions are slow or
# emulated, and bf16 has the range fp16 lacks). Tests widen this to run the fp16 path.
_FP16_DEVICES = ("cuda",)


@dataclass(frozen=True)
class Amp:
    """Mixed precision of a run (see the module docstring)."""

    device_type: str
    dtype: torch.dtype | None = None  # None: float32 throughout, no autocast
    scaled: bool = False  # fp16: losses scaled by GradScalers

    @property
    def name(self) -> str:
        """The precision in ``train.precision``'s words (``"auto"`` resolved)."""
        return next((name for name, dtype in _DTYPES.items() if dtype == self.dtype), "fp32")

    @classmethod
    def of(cls, cfg: TrainConfig, dev: torch.device) -> Amp:
        if cfg.precision not in PRECISIONS:
            raise ConfigError(
                f"expected one of {', '.join(PRECISIONS)}, got {cfg.precision!r}",
                field="train.precision",
            )
        precision = resolve_precision(cfg.precision, dev)
        if precision == "fp16" and dev.type not in _FP16_DEVICES:
            raise ConfigError(
                f"fp16 needs a CUDA device (this run is on {dev.type}); use bf16 or fp32 there",
                field="train.precision",
            )
        if precision == "bf16" and dev.type == "cuda" and not _cuda_bf16(dev):
            raise ConfigError(
                "this GPU has no native bfloat16; use fp16 or fp32", field="train.precision"
            )
        return cls(dev.type, _DTYPES.get(precision), precision == "fp16")

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()  # fp32: not even a disabled autocast
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_step(
        self, loss: Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None
    ) -> None:
        """``loss.backward()`` and ``opt.step()``; with fp16 through the loss scaler."""
        if scaler is None:
            loss.backward()
            opt.step()
            return
        scaler.scale(loss).backward()
        scaler.step(opt)  # skips the step if a gradient overflowed; no host sync (fused Adam)
        scaler.update()


def _cuda_bf16(dev: torch.device) -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # older torch without the argument
        return torch.cuda.is_bf16_supported()


def check_compile(dev: torch.device) -> None:
    """Fail early, before any training, where torch.compile's default backend cannot work."""
    reason = None
    try:
        if dev.type == "cpu":
            from torch._inductor import cpp_builder

            cpp_builder.get_cpp_compiler()  # raises InvalidCxxCompiler without one
        elif dev.type == "cuda":
            from torch.utils._triton import has_triton

            if not has_triton():
                reason = "Triton is not installed"
    except ImportError:
        pass  # the helpers moved: the first compiled call will tell
    except Exception as exc:
        reason = f"no working C++ compiler for the CPU backend ({_first_line(exc)})"
    if reason:
        raise ConfigError(
            f"torch.compile cannot work here: {reason}; set train.compile=false",
            field="train.compile",
        )


def is_compile_error(exc: BaseException) -> bool:
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:
        return False
    return isinstance(exc, TorchDynamoException)


def compile_config_error(exc: BaseException) -> ConfigError:
    return ConfigError(
        f"torch.compile failed ({type(exc).__name__}: {_first_line(exc)[:300]}); "
        "set train.compile=false",
        field="train.compile",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _split(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, None


def float_logits(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """A discriminator's adversarial logits and class logits (``None`` without an AC head),
    in full precision for the losses (a no-op in fp32)."""
    adv, cls = _split(out)
    return full(adv), None if cls is None else full(cls)


def full(t: Tensor) -> Tensor:
    """A 16-bit tensor from autocast in float32; any other as it is (float64 stays)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t

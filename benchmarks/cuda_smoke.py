"""CUDA smoke check and quick timings on a GPU machine (run with PYTHONPATH=. on the device).

Trains both cGAN generators and a CNN classifier for a few steps on random windows on
``cuda``, checks outputs are finite and on the right device, and times ArmModel
forward+backward on 256 x 250 and fit_gan steps/s. Then, for both generators with the
default model of imusynth/configs/watch_cgan.toml (batch 64, 250 samples):

* ``train.precision`` fp32 / bf16 / fp16: checks the weights, EMA and Adam states stay
  float32 and finite, the kinematic arm output is float32 under autocast, counts host-device
  syncs per step in the hot loop (``torch.cuda.set_sync_debug_mode``, with where they come
  from) and reports steady-state steps/s;
* ``train.compile`` on for fp32 and bf16: time to the first steps (compilation) and
  steady-state steps/s, within ``--budget-s`` (compilations left when it is spent are
  skipped, and said so).

Prints one line per check; a failing check prints FAILED and the rest still run::

    PYTHONPATH=. python3 benchmarks/cuda_smoke.py [--steps 150] [--budget-s 480] [--skip-basic]
"""

import argparse
import collections
import copy
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

GENERATORS = ("conv1d", "kinematic")
WARMUP = 10  # steps before the steady-state clock starts (allocator, cuDNN, compilation)
SYNC_STEPS = 16  # steps of the sync-counting runs (counted: steps 4 to SYNC_STEPS - 1)
DEVICE = "cuda"


def basic_checks() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 6, 250)).astype(np.float32)
    X[:, 0] -= 1.0
    y = np.arange(512) % 7
    watch = dict(sampling_rate_hz=50.0, units=("g",) * 3 + ("rad/s",) * 3, gravity=True)
    from imusynth.gan import ConditionalGAN

    for gen in GENERATORS:
        t = time.perf_counter()
        gan = ConditionalGAN(generator=gen, steps=40, batch_size=64, device="cuda")
        gan.fit(X, y, **watch)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t
        Xs, _ = gan.sample(n_per_class=10, seed=0)
        print(
            f"gan {gen}: 40 steps in {dt:.1f}s (incl. warm-up), sample {Xs.shape} "
            f"finite={np.isfinite(Xs).all()}"
        )
        t = time.perf_counter()
        ConditionalGAN(generator=gen, steps=200, batch_size=64, device="cuda").fit(X, y, **watch)
        torch.cuda.synchronize()
        print(f"gan {gen}: {200 / (time.perf_counter() - t):.1f} steps/s (batch 64)")
    from imusynth.train.classifiers import CNNClassifier

    for arch in ("frid_adar", "resnet"):
        t = time.perf_counter()
        clf = CNNClassifier(arch, epochs=5, device="cuda", random_state=0).fit(X, y)
        print(
            f"clf {arch}: 5 epochs in {time.perf_counter() - t:.1f}s, "
            f"train acc {clf.score(X, y):.2f}"
        )
    from imusynth.kinematics.arm import ArmModel

    model = ArmModel().cuda()
    q = torch.zeros(256, len(model.joint_names), 250, device="cuda", requires_grad=True)
    for _ in range(3):
        out = model(q, 50.0)
        (out.acc.sum() + out.gyro.sum()).backward()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        out = model(q, 50.0)
        (out.acc.sum() + out.gyro.sum()).backward()
    torch.cuda.synchronize()
    print(f"ArmModel fwd+bwd 256x250 on cuda: {(time.perf_counter() - t) / 20 * 1e3:.2f} ms")


# ----------------------------------------------------------------------------- precision


def _setup():
    from imusynth.train.config import load_config

    cfg = load_config("watch_cgan.toml")
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(512, 6, 250)).astype(np.float32))  # (N, C, T)
    y = torch.arange(512) % 7
    side = torch.from_numpy(rng.integers(0, 2, size=512))
    return cfg, X, y, side


def _models(cfg, generator: str):
    from imusynth.train.build import build_discriminator, build_generator
    from imusynth.train.config import apply_overrides

    c = apply_overrides(cfg, [f"model.generator={generator}"])
    G = build_generator(c.model, 6, 250, 7, n_sides=2, seed=0)
    D = build_discriminator(c.model, 6, 7, n_sides=2, seed=0)
    return c, G, D


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


class _Clock:
    """A fit_gan callback: wall time to step ``WARMUP`` and steady-state steps/s after it."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.t0 = self.t1 = None
        self.n0 = self.n1 = 0

    def on_step(self, state) -> None:
        if state.step == WARMUP:
            _sync()
            self.t0, self.n0 = time.perf_counter(), state.step

    def on_log(self, state, metrics) -> None:
        pass

    def on_end(self, state) -> None:
        _sync()
        self.t1, self.n1 = time.perf_counter(), state.step

    @property
    def warmup_s(self) -> float:
        return self.t0 - self.start

    @property
    def rate(self) -> float:
        return (self.n1 - self.n0) / (self.t1 - self.t0)


class _SyncCounter:
    """Host-device syncs CUDA reports between steps ``first`` and ``last`` (no log steps)."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last

    def on_step(self, state) -> None:
        if DEVICE != "cuda":
            return
        if state.step == self.first:
            torch.cuda.set_sync_debug_mode("warn")
        elif state.step == self.last:
            torch.cuda.set_sync_debug_mode(0)

    def on_log(self, state, metrics) -> None:
        pass

    def on_end(self, state) -> None:
        if DEVICE == "cuda":
            torch.cuda.set_sync_debug_mode(0)


def _fit(cfg, G, D, X, y, side, overrides, callbacks):
    from imusynth.train.config import apply_overrides
    from imusynth.train.loop import epoch_loader, fit_gan

    c = apply_overrides(cfg, overrides)
    loader = epoch_loader(X, y, side, batch_size=c.train.batch_size, seed=0)
    return fit_gan(G, D, loader, c, callbacks, device=DEVICE)


def _check_state(state, label: str) -> None:
    """Weights, EMA and Adam states float32 and finite; the run's losses finite."""
    tensors = [*state.generator.state_dict().values(), *state.discriminator.state_dict().values()]
    tensors += list(state.ema.state_dict().values())
    for opt in (state.opt_g, state.opt_d):
        for s in opt.state.values():
            tensors += [s["exp_avg"], s["exp_avg_sq"]]
    floats = [t for t in tensors if t.is_floating_point()]
    dtypes = sorted({str(t.dtype) for t in floats})
    finite = all(bool(torch.isfinite(t).all()) for t in floats)
    losses = all(np.isfinite(v) for row in state.history for v in row.values())
    print(f"  {label}: weights/EMA/Adam dtypes {dtypes}, finite {finite}, losses finite {losses}")


def _kinematic_dtypes(G, dtype) -> str:
    seen = {}
    hooks = [
        G.arm.register_forward_hook(lambda m, i, o: seen.update(q=i[0].dtype, acc=o.acc.dtype)),
        G.trunk.register_forward_hook(lambda m, i, o: seen.update(trunk=o.dtype)),
    ]
    z = torch.randn(8, G.latent_dim, device=DEVICE)
    y = torch.arange(8, device=DEVICE) % 7
    side = torch.arange(8, device=DEVICE) % 2
    with torch.no_grad(), torch.autocast(DEVICE, dtype=dtype):
        out = G.forward_with_joints(z, y, side)
    for h in hooks:
        h.remove()
    fields = {k: str(getattr(out, k).dtype) for k in ("x", "joint_angles", "mount", "residual")}
    return f"trunk {seen['trunk']}, arm in {seen['q']} out {seen['acc']}, sample {fields}"


def precision_checks(steps: int) -> dict[tuple[str, str, bool], float]:
    cfg, X, y, side = _setup()
    rates: dict[tuple[str, str, bool], float] = {}
    for gen in GENERATORS:
        for precision in ("fp32", "bf16", "fp16"):
            label = f"{gen} {precision}"
            try:
                c, G, D = _models(cfg, gen)
                if gen == "kinematic" and precision != "fp32":
                    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
                    print(f"  {label} autocast: {_kinematic_dtypes(G.to(DEVICE), dtype)}")
                # Syncs: steps 4..n-2 are no log steps (log_every = the last step).
                n = SYNC_STEPS
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    _fit(c, copy.deepcopy(G), copy.deepcopy(D), X, y, side,
                         [f"train.precision={precision}", f"train.steps={n}",
                          f"train.log_every={n}"], [_SyncCounter(4, n - 1)])  # fmt: skip
                syncs = [w for w in caught if "synchroniz" in str(w.message)]
                where = collections.Counter(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
                print(
                    f"  {label}: {len(syncs) / (n - 1 - 4):.1f} host-device syncs per step "
                    f"in the hot loop {dict(where.most_common(6))}"
                )
                clock = _Clock()
                state = _fit(c, G, D, X, y, side,
                             [f"train.precision={precision}", f"train.steps={WARMUP + steps}",
                              f"train.log_every={WARMUP + steps}"], [clock])  # fmt: skip
                rates[(gen, precision, False)] = clock.rate
                print(f"  {label}: {clock.rate:.1f} steps/s (batch {c.train.batch_size})")
                _check_state(state, label)
            except Exception:
                print(f"  {label}: FAILED\n{traceback.format_exc()}")
    return rates


def compile_checks(steps: int, deadline: float) -> dict[tuple[str, str, bool], float]:
    cfg, X, y, side = _setup()
    rates: dict[tuple[str, str, bool], float] = {}
    for precision in ("fp32", "bf16"):
        for gen in GENERATORS:
            label = f"{gen} {precision} compile"
            if time.perf_counter() > deadline:
                print(f"  {label}: skipped (--budget-s spent)")
                continue
            try:
                import torch._dynamo

                torch._dynamo.reset()
                c, G, D = _models(cfg, gen)
                clock = _Clock()
                state = _fit(c, G, D, X, y, side,
                             [f"train.precision={precision}", "train.compile=true",
                              f"train.steps={WARMUP + steps}",
                              f"train.log_every={WARMUP + steps}"], [clock])  # fmt: skip
                rates[(gen, precision, True)] = clock.rate
                print(
                    f"  {label}: first {WARMUP} steps {clock.warmup_s:.0f}s (compilation), "
                    f"then {clock.rate:.1f} steps/s"
                )
                _check_state(state, label)
                keys = [*state.checkpoint()["generator"], *state.checkpoint()["discriminator"]]
                plain = not any("_orig_mod" in k for k in keys)
                print(f"  {label}: checkpoint keys are the uncompiled modules' {plain}")
            except Exception:
                print(f"  {label}: FAILED\n{traceback.format_exc()}")
    return rates


def _table(rates: dict[tuple[str, str, bool], float]) -> None:
    columns = [(p, False) for p in ("fp32", "bf16", "fp16")] + [("fp32", True), ("bf16", True)]
    head = " ".join(f"{p + (' compiled' if c else ''):>14s}" for p, c in columns)
    print(f"steady-state steps/s {head}")
    for gen in GENERATORS:
        cells = [rates.get((gen, p, c)) for p, c in columns]
        print(
            f"{gen:20s} " + " ".join("             -" if r is None else f"{r:14.1f}" for r in cells)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="timed steps per run")
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="no new compile run after this many seconds")  # fmt: skip
    parser.add_argument("--skip-basic", action="store_true", help="only the precision part")
    args = parser.parse_args()
    start = time.perf_counter()
    assert torch.cuda.is_available(), "no CUDA"
    print("device", torch.cuda.get_device_name(0), "torch", torch.__version__)
    if not args.skip_basic:
        try:
            basic_checks()
        except Exception:
            print(f"basic checks: FAILED\n{traceback.format_exc()}")
    took = time.perf_counter() - start
    print(f"train.precision (batch 64, 250 samples, watch_cgan.toml model), {took:.0f}s in")
    rates = precision_checks(args.steps)
    print(f"train.compile, {time.perf_counter() - start:.0f}s in")
    rates |= compile_checks(args.steps, start + args.budget_s)
    _table(rates)
    print(f"total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()

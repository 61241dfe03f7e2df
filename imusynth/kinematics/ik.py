"""Inverse kinematics: joint-angle trajectories that explain recorded watch IMU windows.

The trajectories are fitted through :class:`ArmModel` by batched L-BFGS (or Adam). Each
joint is ``q_j(t) = lo_j + (hi_j - lo_j) * sigmoid(u_j(t))`` so it always stays within its
range of motion, and ``u_j`` is a uniform cubic B-spline with one coefficient per
``knot_spacing_s`` (0.1 s by default: 53 coefficients for a 5 s window instead of 250
samples), which keeps the problem well conditioned and the motion smooth. The watch mounting
rotation (axis-angle, one per window) can be fitted too, since real watches sit rotated on the
wrist.

The loss is the per-channel mean squared error divided by the channel's variance in that
window (with a floor), i.e. one minus R^2 per channel, so accelerometer and gyroscope count
alike whatever their units. Weak priors keep the trunk near upright, the mount small and the
spline smooth; they resolve redundancies (trunk lean vs shoulder elevation) without costing
fit quality.

The problem is not convex (a hanging arm can turn either way), so the fit starts from
several poses at once: the base poses of the exercise templates and a few generic ones. Each
constant pose is first turned into a trajectory that follows the gyroscope and the measured
gravity direction (a complementary filter in joint space), then fitted briefly; the best
start per window is refined.

What the data cannot tell: without a magnetometer, turning the whole motion about the
vertical changes no reading, so with a fixed thorax the plane of elevation is only known up
to a constant (see ``test_heading_is_unobservable_with_a_fixed_thorax``); redundant joints
(trunk lean vs shoulder elevation, humeral rotation vs pronation with a straight elbow) are
told apart only by the small translational accelerations. R^2 measures how well the signals
are explained, not how unique the angles are.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from imusynth.errors import ConfigError, DataError
from imusynth.kinematics.arm import ArmModel
from imusynth.kinematics.derivatives import time_derivative
from imusynth.kinematics.simulate import EXERCISES, template_pose
from imusynth.runtime import resolve_device

__all__ = ["IKResult", "bspline_basis", "fit_joint_angles", "r2_score"]

log = logging.getLogger(__name__)

# Generic starting poses (degrees) beside the exercise templates: arm hanging, forward,
# sideways, overhead, elbow bent across the body.
_EXTRA_POSES_DEG: tuple[dict[str, float], ...] = (
    {},
    {"shoulder_plane": 90, "shoulder_elevation": 90, "shoulder_rotation": -90, "elbow_flexion": 10},
    {"shoulder_plane": 0, "shoulder_elevation": 90, "elbow_flexion": 10},
    {
        "shoulder_plane": 45,
        "shoulder_elevation": 150,
        "shoulder_rotation": -45,
        "elbow_flexion": 10,
    },
    {
        "shoulder_elevation": 20,
        "shoulder_rotation": 60,
        "elbow_flexion": 100,
        "forearm_pronation": 60,
    },
)
_VAR_FLOOR = (0.01, 0.01, 0.01, 0.04, 0.04, 0.04)  # (0.1 g)^2 and (0.2 rad/s)^2


@dataclass
class IKResult:
    """Result of :func:`fit_joint_angles` (all tensors on the CPU, float32).

    Attributes
    ----------
    q : Tensor
        (B, J, T) fitted joint angles in radians, within the model's joint limits.
    mount : Tensor
        (B, 3) fitted watch mounting rotation, axis-angle (zeros if not fitted).
    r2 : Tensor
        (B, 6) coefficient of determination per channel ``[ax ay az wx wy wz]``.
    acc, gyro : Tensor
        (B, 3, T) signals the fitted motion produces.
    loss : Tensor
        (B,) final data loss (mean over channels of 1 - R^2 with a variance floor).
    start : Tensor
        (B,) index of the starting pose that won the multi-start.
    joint_names : tuple of str
        Names of the J joints.
    """

    q: Tensor
    mount: Tensor
    r2: Tensor
    acc: Tensor
    gyro: Tensor
    loss: Tensor
    start: Tensor
    joint_names: tuple[str, ...]


def bspline_basis(n_t: int, n_coef: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Uniform cubic B-spline basis (T, K) on ``n_t`` samples with ``n_coef >= 4`` coefficients.

    Examples
    --------
    >>> b = bspline_basis(50, 8)
    >>> b.shape, bool(torch.allclose(b.sum(1), torch.ones(50, dtype=b.dtype)))
    (torch.Size([50, 8]), True)
    """
    if n_coef < 4:
        raise ConfigError(f"a cubic B-spline needs >= 4 coefficients, got {n_coef}", field="n_coef")
    n_seg = n_coef - 3
    s = np.linspace(0, n_seg, n_t)  # position in knot units
    seg = np.minimum(np.floor(s).astype(int), n_seg - 1)
    u = s - seg
    blend = (
        np.stack(
            ((1 - u) ** 3, 3 * u**3 - 6 * u**2 + 4, -3 * u**3 + 3 * u**2 + 3 * u + 1, u**3), axis=1
        )
        / 6
    )  # (T, 4)
    basis = np.zeros((n_t, n_coef))
    for k in range(4):
        basis[np.arange(n_t), seg + k] = blend[:, k]
    return torch.as_tensor(basis, dtype=dtype)


def r2_score(pred: Tensor, target: Tensor) -> Tensor:
    """R^2 per window and channel of ``pred`` vs ``target`` (B, C, T) -> (B, C).

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2, 3, 20)
    >>> r2_score(x, x).tolist() == [[1.0] * 3] * 2
    True
    """
    sse = ((pred - target) ** 2).sum(-1)
    sst = ((target - target.mean(-1, keepdim=True)) ** 2).sum(-1)
    return 1 - sse / sst.clamp_min(torch.finfo(target.dtype).tiny)


def _as_tensor(x: np.ndarray | Tensor, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
    if t.ndim != 3 or t.shape[1] != 3:
        raise DataError(f"expected shape (B, 3, T), got {tuple(t.shape)}", field=name)
    if not torch.isfinite(t).all():
        raise DataError("contains NaN or Inf", field=name)
    return t.detach().to(torch.float32)


def _start_poses(model: ArmModel, init: str | Tensor, exercise, batch: int) -> Tensor:
    """(S, B, J) or (S, B, J, T) starting joint angles in radians."""
    names = model.joint_names
    if isinstance(init, Tensor):
        if init.ndim == 2:
            init = init[:, :, None]  # (B, J, 1)
        if init.ndim != 3 or init.shape[:2] != (batch, len(names)):
            raise DataError(
                f"init must be (B, J[, T]) with B={batch}, J={len(names)}", field="init"
            )
        return init[None].to(torch.float64)
    if init == "template":
        if exercise is None:
            raise ConfigError("init='template' needs the exercise of each window", field="exercise")
        ex = [exercise] * batch if isinstance(exercise, str) else list(exercise)
        if len(ex) != batch:
            raise DataError(f"need {batch} exercise names, got {len(ex)}", field="exercise")
        poses = np.stack([template_pose(e, names) for e in ex])  # (B, J)
        return torch.as_tensor(poses)[None, :, :, None]
    if init == "multistart":
        poses = [template_pose(e, names) for e in EXERCISES]
        poses += [np.radians([p.get(n, 0.0) for n in names]) for p in _EXTRA_POSES_DEG]
        stack = torch.as_tensor(np.stack(poses))  # (S, J)
        return stack[:, None, :, None].expand(-1, batch, -1, -1)  # (S, B, J, 1)
    raise ConfigError(
        f"init must be 'multistart', 'template' or a tensor, got {init!r}", field="init"
    )


def _track_gyro(
    model: ArmModel,
    acc: Tensor,
    gyro: Tensor,
    fs: float,
    q0: Tensor,
    *,
    gain: float = 3.0,
    damping: float = 0.1,
    trunk_cost: float = 10.0,
) -> Tensor:
    """Joint trajectories (N, J, T) that follow the gyroscope from the poses ``q0`` (N, J).

    A complementary filter in joint space: each step turns the measured angular velocity,
    plus a correction ``gain * (a x g)`` that turns the modelled gravity direction ``g`` toward
    the (smoothed) measured one ``a`` (Mahony et al. 2008), into joint velocities by weighted
    damped least squares through the sensor-frame joint axes. Run forward once to forget the
    start, then backward from the end to produce the trajectory, so every sample is tracked.
    Trunk joints are made costlier so that the arm, not the trunk, takes up the motion.
    """
    lim = model.joint_limits.to(q0)
    a = time_derivative(acc, fs, 0, window=25, polyorder=2)  # (N, 3, T) ~0.5 s smoothing
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-6)
    n_t = acc.shape[-1]
    cost = torch.tensor(
        [trunk_cost if n.startswith("trunk") else 1.0 for n in model.joint_names], dtype=q0.dtype
    ).to(q0.device)
    eye = damping**2 * torch.eye(3, dtype=q0.dtype, device=q0.device)
    q = q0
    traj: list[Tensor] = [q0] * n_t
    for direction, steps in ((1.0, range(n_t)), (-1.0, range(n_t - 1, -1, -1))):
        for k in steps:
            traj[k] = q
            axes, up = model.joint_axes(q[:, :, None])  # (N, J, 3, 1), (N, 3, 1)
            jac = axes[..., 0].transpose(1, 2)  # (N, 3, J)
            w = direction * gyro[:, :, k] + gain * torch.linalg.cross(a[:, :, k], up[..., 0])
            jw = jac / cost  # J W^-1
            rhs = torch.linalg.solve(jw @ jac.transpose(1, 2) + eye, w[..., None])  # (N, 3, 1)
            qd = (jw.transpose(1, 2) @ rhs)[..., 0]  # (N, J)
            q = torch.minimum(torch.maximum(q + qd / fs, lim[:, 0]), lim[:, 1])
    return torch.stack(traj, dim=-1)  # (N, J, T)


class _Fit:
    """Batched least-squares fit of spline coefficients (and mount) for a fixed set of windows."""

    def __init__(self, model, acc, gyro, fs, n_coef, cfg, device):
        self.model, self.fs, self.cfg = model, fs, cfg
        self.target = torch.cat((acc, gyro), dim=1).to(device)  # (B, 6, T)
        var = self.target.var(-1, unbiased=False)  # (B, 6)
        floor = torch.tensor(_VAR_FLOOR, device=device)
        self.weight = 1 / torch.maximum(var, floor)  # (B, 6)
        lim = model.joint_limits.to(device=device, dtype=torch.float32)
        self.lo, self.span = lim[:, 0, None], (lim[:, 1] - lim[:, 0])[:, None]  # (J, 1)
        self.basis = bspline_basis(self.target.shape[-1], n_coef, torch.float32).to(device)
        self.pinv = torch.linalg.pinv(self.basis)  # (K, T)
        self.trunk_idx = [i for i, n in enumerate(model.joint_names) if n.startswith("trunk")]

    def coef_from_q(self, q: Tensor) -> Tensor:
        """Spline coefficients (B, J, K) reproducing ``q`` (B, J, T) or a pose (B, J, 1)."""
        frac = ((q.to(self.lo) - self.lo) / self.span).clamp(0.02, 0.98)
        u = torch.log(frac / (1 - frac))  # (B, J, T')
        if u.shape[-1] == 1:
            return u.expand(-1, -1, self.basis.shape[1]).clone()
        return u @ self.pinv.T  # (B, J, K)

    def q(self, coef: Tensor) -> Tensor:
        return self.lo + self.span * torch.sigmoid(coef @ self.basis.T)  # (B, J, T)

    def losses(self, coef: Tensor, mount: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Data loss (B,), total loss (B,), prediction (B, 6, T)."""
        q = self.q(coef)
        pred = self.model(q, self.fs, mount=mount).imu  # (B, 6, T)
        data = (((pred - self.target) ** 2).mean(-1) * self.weight).mean(-1)  # (B,)
        d2 = coef[..., 2:] - 2 * coef[..., 1:-1] + coef[..., :-2]
        reg = self.cfg["smoothness"] * (d2**2).mean((-1, -2))
        if self.trunk_idx:
            reg = reg + self.cfg["trunk_prior"] * (q[:, self.trunk_idx] ** 2).mean((-1, -2))
        if mount is not None:
            reg = reg + self.cfg["mount_prior"] * (mount**2).sum(-1)
        return data, data + reg, pred

    def run(self, coef: Tensor, mount: Tensor | None, steps: int, lr: float, optimizer: str):
        if optimizer == "lbfgs":
            return self.run_lbfgs(coef, mount, steps, first_step=lr)
        coef = coef.detach().clone().requires_grad_(True)
        params = [coef]
        if mount is not None:
            mount = mount.detach().clone().requires_grad_(True)
            params.append(mount)
        opt = torch.optim.Adam(params, lr=lr)
        for step in range(steps):
            # Cosine decay: large early steps to leave the start pose, small ones to settle.
            for group in opt.param_groups:
                group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
            opt.zero_grad(set_to_none=True)
            _, total, _ = self.losses(coef, mount)
            total.sum().backward()  # windows are independent: sum keeps each one's gradient
            opt.step()
        with torch.no_grad():
            data, _, pred = self.losses(coef, mount)
        return coef.detach(), None if mount is None else mount.detach(), data, pred

    def run_lbfgs(
        self,
        coef: Tensor,
        mount: Tensor | None,
        iters: int,
        memory: int = 10,
        first_step: float = 0.1,
    ):
        """Batched L-BFGS with a backtracking (Armijo) line search for every window on its own.

        The windows are independent problems, so each keeps its own curvature history and
        step length; torch's LBFGS would couple them through one shared line search.
        """
        batch = coef.shape[0]
        shape_c = coef.shape
        n_c = coef[0].numel()

        def pack(c: Tensor, m: Tensor | None) -> Tensor:
            flat = c.reshape(batch, -1)  # (B, J*K)
            return flat if m is None else torch.cat((flat, m), dim=1)  # (B, P)

        def evaluate(x: Tensor) -> tuple[Tensor, Tensor]:
            x = x.detach().requires_grad_(True)
            c = x[:, :n_c].reshape(shape_c)
            m = None if mount is None else x[:, n_c:]
            _, total, _ = self.losses(c, m)
            (grad,) = torch.autograd.grad(total.sum(), x)  # independent windows: per-window grads
            return total.detach(), grad

        x = pack(coef.detach(), None if mount is None else mount.detach())
        f, g = evaluate(x)
        n_p = x.shape[1]
        hist_s = x.new_zeros(batch, memory, n_p)
        hist_y = x.new_zeros(batch, memory, n_p)
        rho = x.new_zeros(batch, memory)
        gamma = x.new_full((batch, 1), first_step) / g.abs().amax(1, keepdim=True).clamp_min(1e-12)
        active = torch.ones(batch, dtype=torch.bool, device=x.device)
        for it in range(iters):
            # Two-loop recursion, newest pair first; empty slots have rho = 0 and do nothing.
            q = g.clone()
            alpha = []
            for i in range(memory):
                slot = (it - 1 - i) % memory
                a = rho[:, slot] * (hist_s[:, slot] * q).sum(1)
                q = q - a[:, None] * hist_y[:, slot]
                alpha.append((slot, a))
            r = gamma * q
            for slot, a in reversed(alpha):
                b = rho[:, slot] * (hist_y[:, slot] * r).sum(1)
                r = r + hist_s[:, slot] * (a - b)[:, None]
            d = -r
            slope = (g * d).sum(1)
            bad = slope >= 0  # not a descent direction: fall back to scaled steepest descent
            d = torch.where(bad[:, None], -gamma * g, d)
            slope = (g * d).sum(1)
            t = x.new_ones(batch)
            done = ~active  # converged windows take no more steps
            x_new, f_new, g_new = x, f, g
            for _ in range(6):
                x_try = x + t[:, None] * d
                f_try, g_try = evaluate(x_try)
                ok = (f_try <= f + 1e-4 * t * slope) & ~done & torch.isfinite(f_try)
                x_new = torch.where(ok[:, None], x_try, x_new)
                f_new = torch.where(ok, f_try, f_new)
                g_new = torch.where(ok[:, None], g_try, g_new)
                done = done | ok
                if bool(done.all()):
                    break
                t = torch.where(done, t, 0.3 * t)
            moved = done & active
            # A window whose line search failed, or that no longer improves beyond float
            # rounding, has converged; stop when all have (saves most late iterations).
            gain = f - f_new
            active = moved & (gain > 1e-7 * f.abs().clamp_min(1e-3))
            s_k, y_k = x_new - x, g_new - g
            sy = (s_k * y_k).sum(1)
            keep = moved & (sy > 1e-10)
            slot = it % memory
            hist_s[:, slot] = torch.where(keep[:, None], s_k, 0.0)
            hist_y[:, slot] = torch.where(keep[:, None], y_k, 0.0)
            rho[:, slot] = torch.where(keep, 1 / sy.clamp_min(1e-10), 0.0)
            gamma = torch.where(
                keep[:, None], (sy / (y_k * y_k).sum(1).clamp_min(1e-20))[:, None], gamma
            )
            x, f, g = x_new, f_new, g_new
            if not bool(active.any()):
                break
        coef = x[:, :n_c].reshape(shape_c)
        mount = None if mount is None else x[:, n_c:]
        with torch.no_grad():
            data, _, pred = self.losses(coef, mount)
        return coef, mount, data, pred


def fit_joint_angles(
    acc: np.ndarray | Tensor,
    gyro: np.ndarray | Tensor,
    fs: float,
    model: ArmModel,
    *,
    fit_mount: bool = True,
    steps: int = 150,
    lr: float = 0.1,
    optimizer: str = "lbfgs",
    init: str | Tensor = "multistart",
    exercise: str | list[str] | None = None,
    restart_steps: int = 15,
    track_gyro: bool = True,
    knot_spacing_s: float = 0.1,
    smoothness: float = 1e-3,
    trunk_prior: float = 1e-2,
    mount_prior: float = 1e-2,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = False,
    seed: int = 0,
) -> IKResult:
    """Fit joint-angle trajectories (and the watch mount) to IMU windows.

    Parameters
    ----------
    acc, gyro : array or Tensor
        (B, 3, T) accelerometer in g and gyroscope in rad/s, in the watch frame of ``model``
        (see :mod:`imusynth.kinematics.arm`; pick ``ArmModel(side=...)`` per arm).
    fs : float
        Sampling rate in Hz.
    model : ArmModel
        The kinematic model (its side, trunk option and geometry are used as given).
    fit_mount : bool
        Also fit a per-window watch mounting rotation.
    steps : int
        Iterations of the final refinement.
    lr : float
        Adam learning rate, or the length of L-BFGS's first step (largest change of a spline
        coefficient, which lives in logit space; the mount is in radians).
    optimizer : {"lbfgs", "adam"}
        Batched L-BFGS with a line search per window (converges in about 4x fewer
        evaluations), or Adam with cosine learning-rate decay.
    init : {"multistart", "template"} or Tensor
        ``"multistart"`` tries the base pose of every exercise template and five generic
        poses (12 starts, ``restart_steps`` each) and keeps the best per window;
        ``"template"`` starts from the base pose of ``exercise``; a tensor (B, J) gives a
        starting pose per window, (B, J, T) a starting trajectory (not gyro-tracked).
    exercise : str or list of str, optional
        Exercise of every window, for ``init="template"``.
    restart_steps : int
        Optimiser iterations from each start before the best one is kept (0: judge the
        starts as they are).
    track_gyro : bool
        Turn each constant starting pose into a trajectory that follows the gyroscope and
        the measured gravity direction (a joint-space complementary filter) before fitting.
    knot_spacing_s : float
        Time between spline coefficients in seconds.
    smoothness, trunk_prior, mount_prior : float
        Weights of the regularisers (second differences of the coefficients, squared trunk
        angles, squared mount angle).
    batch_size : int
        Windows fitted together (memory vs speed).
    device : str or torch.device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    progress : bool
        Show a tqdm progress bar over batches.
    seed : int
        Seeds the small jitter added to the starting poses.

    Returns
    -------
    IKResult

    Examples
    --------
    >>> from imusynth.kinematics import ArmModel, simulate_exercise
    >>> sim = simulate_exercise("IR", n=1, length=100, rng=0)
    >>> res = fit_joint_angles(sim["X"][:, :3], sim["X"][:, 3:], 50.0, ArmModel(),
    ...                        steps=30, restart_steps=5)
    >>> res.q.shape, res.r2.shape
    (torch.Size([1, 7, 100]), torch.Size([1, 6]))
    """
    acc_t, gyro_t = _as_tensor(acc, "acc"), _as_tensor(gyro, "gyro")
    if acc_t.shape != gyro_t.shape:
        raise DataError(
            f"acc {tuple(acc_t.shape)} and gyro {tuple(gyro_t.shape)} differ", field="gyro"
        )
    if not (fs > 0 and math.isfinite(fs)):
        raise ConfigError(f"sampling rate must be > 0 Hz, got {fs!r}", field="fs")
    if steps < 1 or restart_steps < 0 or lr <= 0 or batch_size < 1 or knot_spacing_s <= 0:
        raise ConfigError(
            "steps, lr, batch_size and knot_spacing_s must be positive", field="steps"
        )
    if optimizer not in ("lbfgs", "adam"):
        raise ConfigError(f"must be 'lbfgs' or 'adam', got {optimizer!r}", field="optimizer")
    dev = resolve_device(device)
    batch, _, n_t = acc_t.shape
    n_coef = max(4, round(n_t / (knot_spacing_s * fs)) + 3)
    starts = _start_poses(model, init, exercise, batch)
    gen = torch.Generator().manual_seed(seed)
    cfg = {"smoothness": smoothness, "trunk_prior": trunk_prior, "mount_prior": mount_prior}
    fit_model = ArmModel(
        model.side,
        trunk=model.trunk,
        geometry=model.geometry,
        limits=dict(zip(model.joint_names, model.joint_limits.tolist(), strict=True)),
        deriv_window=model.deriv_window,
        deriv_polyorder=model.deriv_polyorder,
    ).to(dev)

    chunks = range(0, batch, batch_size)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="inverse kinematics", unit="batch")
    out: dict[str, list[Tensor]] = {k: [] for k in ("q", "mount", "loss", "pred", "start")}
    for lo in chunks:
        sl = slice(lo, min(lo + batch_size, batch))
        b = sl.stop - sl.start
        n_start = starts.shape[0]
        acc_b, gyro_b = acc_t[sl], gyro_t[sl]
        # Every start on every window at once: (S * b) independent problems.
        acc_r, gyro_r = acc_b.repeat(n_start, 1, 1).to(dev), gyro_b.repeat(n_start, 1, 1).to(dev)
        q0 = starts[:, sl].reshape(n_start * b, *starts.shape[2:]).to(dev)  # (S*b, J, T')
        if track_gyro and q0.shape[-1] == 1:
            with torch.no_grad():
                q0 = _track_gyro(fit_model, acc_r, gyro_r, fs, q0[..., 0].to(torch.float32))
        fit = _Fit(fit_model, acc_r, gyro_r, fs, n_coef, cfg, dev)
        coef = fit.coef_from_q(q0)
        coef = coef + 0.02 * torch.randn(coef.shape, generator=gen).to(dev)
        mount = torch.zeros(n_start * b, 3, device=dev) if fit_mount else None
        if restart_steps > 0:
            coef, mount, data, _ = fit.run(coef, mount, restart_steps, lr, optimizer)
        else:
            with torch.no_grad():
                data = fit.losses(coef, mount)[0]
        best = data.view(n_start, b).argmin(0)  # (b,)
        pick = best * b + torch.arange(b, device=dev)
        coef = coef[pick]
        mount = None if mount is None else mount[pick]
        fit = _Fit(fit_model, acc_b, gyro_b, fs, n_coef, cfg, dev)
        coef, mount, data, pred = fit.run(coef, mount, steps, lr, optimizer)
        with torch.no_grad():
            out["q"].append(fit.q(coef).cpu())
        out["mount"].append(torch.zeros(b, 3) if mount is None else mount.cpu())
        out["loss"].append(data.cpu())
        out["pred"].append(pred.cpu())
        out["start"].append(best.cpu())
        log.debug("IK batch %d-%d: median loss %.3f", sl.start, sl.stop, data.median())
    pred = torch.cat(out["pred"])  # (B, 6, T)
    target = torch.cat((acc_t, gyro_t), dim=1)  # (B, 6, T)
    return IKResult(
        q=torch.cat(out["q"]),
        mount=torch.cat(out["mount"]),
        r2=r2_score(pred, target),
        acc=pred[:, :3],
        gyro=pred[:, 3:],
        loss=torch.cat(out["loss"]),
        start=torch.cat(out["start"]),
        joint_names=model.joint_names,
    )

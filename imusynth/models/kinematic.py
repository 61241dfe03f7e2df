"""A generator whose windows come out of a differentiable arm: physically possible by design.

The trunk of the free generator proposes, per sample, joint-angle trajectories squashed into
each joint's range of motion and a watch mounting rotation; :class:`~imusynth.kinematics.arm.
ArmModel` turns them into the accelerometer and gyroscope signals a sensor on the wrist (or
on the upper arm) would record, with gravity or without it as the data have it. An optional
small residual branch, penalised, adds what the chain does not model (soft tissue, sensor
noise and bias). The output is normalised with the training normaliser, so the discriminator
sees the same space as for the free generator.

The residual branch can also undo the arm: when the data differ from what the arm makes
(gravity removed but modelled, the sensor elsewhere on the body, other units), it learns to
cancel the arm's signal and the kinematic constraint is silently bypassed.
:meth:`KinematicGenerator.residual_share` measures its share of the output power; training
logs it and warns above :data:`RESIDUAL_SHARE_BOUND`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imusynth.errors import ConfigError
from imusynth.kinematics.arm import ArmModel, small_vector
from imusynth.kinematics.rotations import axis_angle_to_matrix
from imusynth.models.blocks import TrunkGenerator1d

__all__ = [
    "PLACEMENT_SEGMENTS",
    "RESIDUAL_SHARE_BOUND",
    "KinematicGenerator",
    "KinematicSample",
    "sensor_segment",
]

# Where the arm model can put its virtual sensor: the placements of a dataset spec ("" = not
# stated, taken as the wrist) and the arm segment each one means.
PLACEMENT_SEGMENTS = {
    "": "forearm",
    "wrist": "forearm",
    "wrist-left": "forearm",
    "wrist-right": "forearm",
    "upper-arm": "upper_arm",
    "upper-arm-left": "upper_arm",
    "upper-arm-right": "upper_arm",
}
# Above this share of the output power (per sensor, normalised units) the residual branch,
# not the arm, makes the windows. Measured (residual_share, 512 windows, 3 seeds): the watch
# default (imusynth/configs/watch_cgan.toml, 1200 steps) ends at accelerometer 0.087, gyroscope
# 0.048; the watch data with gravity removed, at 10 Hz, trained with gravity modelled, reach
# 2.4-3.7 on the accelerometer from step 150 on (the residual cancels the arm's gravity).
RESIDUAL_SHARE_BOUND = 0.25

# A relaxed standing pose the joint head starts from (degrees); the sigmoid squashing is
# offset so that a zero output of the network means this pose, not the middle of each range.
_NEUTRAL_DEG = {
    "trunk_flexion": 0.0,
    "trunk_lateral": 0.0,
    "shoulder_plane": 30.0,
    "shoulder_elevation": 30.0,
    "shoulder_rotation": 0.0,
    "elbow_flexion": 45.0,
    "forearm_pronation": 0.0,
}


@dataclass
class KinematicSample:
    """What :meth:`KinematicGenerator.forward_with_joints` returns.

    Attributes
    ----------
    x : Tensor
        (B, 6, T) window in the normalised space (kinematic signals plus residual).
    joint_angles : Tensor
        (B, J, T) joint angles in radians, ``joint_names`` order, within the joint limits.
    mount : Tensor
        (B, 3) watch mounting rotation (axis-angle, radians).
    residual : Tensor
        (B, 6, T) the residual branch's contribution (normalised units); zeros without it.
    """

    x: Tensor
    joint_angles: Tensor
    mount: Tensor
    residual: Tensor


class KinematicGenerator(TrunkGenerator1d):
    """Noise and class -> joint angles + watch mount -> ArmModel -> ``(B, 6, T)`` windows.

    Parameters
    ----------
    n_channels : int
        Must be 6: ``ax, ay, az`` in g then ``wx, wy, wz`` in rad/s.
    length : int
        Samples per window.
    num_classes : int
        0 for unconditional.
    sampling_rate_hz : float
        Sampling rate of the windows (the arm model differentiates in time).
    channel_mean, channel_scale : ndarray (6,), optional
        The training normaliser; defaults (0, 1) are only for tests.
    **trunk : int
        Options of the shared trunk (``latent_dim``, ``embed_dim``, ``width``, ``n_blocks``,
        ``kernel_size``, ``n_sides``, ``noise_channels``), as for
        :class:`~imusynth.models.gan1d.Conv1dGenerator`; side code 0 is a left arm, 1 a
        right arm (without side conditioning every sample is a right arm).
    joint_stride : int
        Joint angles are proposed at ``sampling_rate_hz / joint_stride`` and interpolated with
        a Hann smoother, so they are smooth: the accelerometer sees their second derivative,
        which would amplify any sample-to-sample jitter by ``fs**2``.
    mount_max_deg : float
        Each component of the per-sample mount rotation lies within +- this.
    residual : bool
        Add the residual branch (its mean square is :meth:`penalty`).
    sensor_noise_taps : int
        0, or the odd length of a learned FIR filter per channel that colours white noise
        into what the chain cannot produce: sensor noise, strap wobble and tremor, whose
        power above a few hertz (most of all in the gyroscope about the forearm) the smooth
        joint trajectories lack. Its gain per sample and channel comes from the trunk (so it
        depends on the class), it is not penalised, and its white noise is part of ``z``.
    sensor_noise_std : ndarray (6,), optional
        Initial noise level per channel in normalised units (default 0.05): start near the
        data's sample-to-sample variation (see :func:`imusynth.gan.fast_variation`), since
        Adam at GAN learning rates moves an amplitude only slowly.
    sensor_noise_bands : int
        0, or (instead of ``sensor_noise_taps``) the number of equal-width frequency bands
        from 0 to Nyquist in which white noise is shaped: per window and channel, each
        band's log gain is drawn from a normal distribution whose mean depends on the trunk
        features (class, latent) and whose spread is learned, with one draw shared by the
        whole window and one per band and channel. Real windows differ several-fold in how
        much fast content they carry (a loose strap, a tremor); a fixed gain makes every
        window alike, which a judge of band energies sees at once. The log gains move 20x
        faster than Adam's step, so the spectrum can reach the data's in a short run.
    sensor_noise_mix : bool
        With ``sensor_noise_bands``: mix the shaped noise across the six channels with a
        learned 6x6 matrix, the identity at first (moving as fast as the log gains). Strap
        wobble and tremor move the sensor as a rigid body, so their fast content is
        correlated across axes; independent noise per axis is not.
    sensor_noise_envelope : bool
        With ``sensor_noise_bands``: modulate the shaped noise over time by a learned
        envelope of the trunk's features (a 1x1 convolution, zero at first, so the noise
        starts stationary), normalised to a mean log level of 0 per window and channel: the
        band gains keep the window's level, the envelope only moves it in time. Real fast
        content comes in bursts with the movement (impacts, a strap that wobbles at the
        turns), where stationary noise is the same all through the window.
    joint_harmonics : int
        0, or the number of harmonics of a repeating movement added to the joint paths (before
        the joint limits): per window a fundamental between :data:`HARMONIC_HZ` and, per
        joint and harmonic, a cosine and a sine amplitude, all from the trunk's window-wide
        features (zero amplitudes at first). Exercises are done in repetitions at a steady
        tempo, so real windows repeat themselves (autocorrelation near 1 at the period);
        trajectories built by convolutions from noise seldom do. The highest harmonic must
        stay below the joint rate's Nyquist frequency.
    joint_symmetric : bool
        With ``joint_harmonics``: each joint's repetition is the same played backwards, a
        cosine series about a time of its own, ``sum_k A_jk cos(k (w t - phi_j))`` (per joint
        an amplitude per harmonic and a phase, instead of a cosine and a sine amplitude per
        harmonic): lifting and lowering take mirror shapes, while joints may still lag one
        another (a circle stays a circle). The real windows of a class lean one way in time
        about as often as the other; the default's lean one way. Over two seeds it scored
        below the default on the forest judge and TSTR, the free part of the joint paths
        staying skewed (``experiments/results/fidelity_variants/joint_symmetric.md``).
    joint_reversal : bool
        Play the joint paths (and the residual) of half the windows backwards, before the arm
        turns them into accelerations and rates: a real window shows repetitions in no
        preferred direction of time, where a generator left to itself settles on one shape
        per class that a judge reads backwards and forwards (``benchmarks/judge_reversal.py``).
        The reversed path is as valid a movement: the arm differentiates it again. The sign
        of one latent coordinate of its own, the last (``latent_dim`` grows by one), chooses;
        nothing else reads it, so the generator cannot make those windows backwards first
        (as it did when the trunk's first latent chose). Measured over two seeds, it made the
        accelerometer's movement as symmetric in time as the real one in one of them, and
        scored below the default on the judges and TSTR in both
        (``experiments/results/fidelity_variants/joint_reversal.md``).
    sensor_noise_envelope_max : float
        With ``sensor_noise_envelope``: the largest factor by which the envelope may raise
        or lower the noise level, a soft bound (``b tanh(log_env / b)`` with ``b = log`` of
        it); 0: unbounded. An unbounded envelope learns to pile the noise onto the
        movement's peaks, where the window then reaches many g.
    gravity : bool
        The accelerometer channels hold specific force, gravity included (a raw
        accelerometer); False: linear acceleration with gravity removed (0 g at rest).
    placement : str
        Where the sensor is worn, a key of :data:`PLACEMENT_SEGMENTS`: the wrist (a watch on
        the distal forearm; also ``""``, not stated) or the upper arm (on the humerus).

    Examples
    --------
    >>> g = KinematicGenerator(6, 100, 7)
    >>> out = g.forward_with_joints(torch.randn(2, g.latent_dim), torch.tensor([1, 3]))
    >>> out.x.shape, out.joint_angles.shape
    (torch.Size([2, 6, 100]), torch.Size([2, 7, 100]))
    """

    def __init__(
        self,
        n_channels: int,
        length: int,
        num_classes: int,
        *,
        sampling_rate_hz: float = 50.0,
        channel_mean: np.ndarray | None = None,
        channel_scale: np.ndarray | None = None,
        joint_stride: int = 5,
        mount_max_deg: float = 25.0,
        residual: bool = True,
        sensor_noise_taps: int = 0,
        sensor_noise_std: np.ndarray | None = None,
        sensor_noise_bands: int = 0,
        sensor_noise_mix: bool = False,
        sensor_noise_envelope: bool = False,
        sensor_noise_envelope_max: float = 0.0,
        joint_harmonics: int = 0,
        joint_symmetric: bool = False,
        joint_reversal: bool = False,
        gravity: bool = True,
        placement: str = "",
        **trunk: int,
    ) -> None:
        super().__init__()
        if n_channels != 6:
            raise ValueError(f"the kinematic generator makes 6 channels, not {n_channels}")
        self.fs = float(sampling_rate_hz)
        self.joint_stride = joint_stride
        self.joint_reversal = bool(joint_reversal)
        self.joint_symmetric = bool(joint_symmetric)
        self.mount_max = math.radians(mount_max_deg)
        self.gravity, self.placement = bool(gravity), placement
        self.arm = ArmModel(side="right", gravity=gravity, segment=sensor_segment(placement))
        self.joint_names = self.arm.joint_names
        limits = self.arm.joint_limits.float()  # (J, 2)
        lo, hi = limits[:, 0], limits[:, 1]
        neutral = torch.tensor([math.radians(_NEUTRAL_DEG.get(n, 0.0)) for n in self.joint_names])
        frac = ((neutral - lo) / (hi - lo)).clamp(0.02, 0.98)
        self.register_buffer("q_low", lo[None, :, None].clone(), persistent=False)  # (1, J, 1)
        self.register_buffer("q_range", (hi - lo)[None, :, None].clone(), persistent=False)
        self.register_buffer("q_offset", torch.logit(frac)[None, :, None], persistent=False)
        self.register_buffer("smoother", _hann(2 * joint_stride + 1), persistent=False)
        mean = np.zeros(6) if channel_mean is None else np.asarray(channel_mean, dtype=np.float64)
        scale = np.ones(6) if channel_scale is None else np.asarray(channel_scale, dtype=np.float64)
        self.register_buffer("channel_mean", torch.tensor(mean, dtype=torch.float32)[None, :, None])
        self.register_buffer(
            "channel_scale", torch.tensor(scale, dtype=torch.float32)[None, :, None]
        )

        feats = self._add_trunk(n_channels, length, num_classes, **trunk)
        kernel_size = self.trunk.kernel_size
        self.joint_head = nn.Conv1d(
            feats, len(self.joint_names), kernel_size, padding=kernel_size // 2
        )
        self.harmonic_head = None
        if joint_harmonics:
            if not 0 <= joint_harmonics <= max_joint_harmonics(self.fs, joint_stride):
                raise ValueError(
                    f"joint_harmonics={joint_harmonics}: the highest harmonic "
                    f"({joint_harmonics} x {HARMONIC_HZ[1]} Hz) must stay below the joint rate's "
                    f"Nyquist frequency ({self.fs / joint_stride / 2:g} Hz)"
                )
            # Per joint and harmonic a cosine and a sine amplitude, then the fundamental; or,
            # symmetric, per joint an amplitude per harmonic and the phase as a 2D vector.
            per_joint = joint_harmonics + 2 if joint_symmetric else 2 * joint_harmonics
            self.harmonic_head = nn.Linear(feats, len(self.joint_names) * per_joint + 1)
            nn.init.zeros_(self.harmonic_head.weight)
            nn.init.zeros_(self.harmonic_head.bias)
            if joint_symmetric:  # phase vectors (1, 0) at first: well away from atan2's pole
                with torch.no_grad():
                    self.harmonic_head.bias[:-1].view(-1, per_joint)[:, joint_harmonics] = 1.0
            t = torch.arange(length, dtype=torch.float32) / self.fs
            k = torch.arange(1, joint_harmonics + 1, dtype=torch.float32)
            self.register_buffer("harmonic_kt", k[:, None] * t[None, :], persistent=False)
        self.mount_head = nn.Linear(feats, 3)
        nn.init.zeros_(self.mount_head.weight)  # start at the nominal watch placement
        nn.init.zeros_(self.mount_head.bias)
        self.residual_head = None
        if residual:
            self.residual_head = nn.Conv1d(feats, n_channels, kernel_size, padding=kernel_size // 2)
            # Nearly kinematic at first, but not exactly zero: the residual's broadband
            # (noise-driven) part could not grow from zero weights (see UpBlock1d).
            nn.init.normal_(self.residual_head.weight, 0.0, 0.005)
            nn.init.zeros_(self.residual_head.bias)
        self.sensor_taps = None
        self.trunk_z_dim = self.trunk.z_dim
        if sensor_noise_taps:
            if sensor_noise_taps % 2 == 0:
                raise ValueError(f"sensor_noise_taps must be odd, got {sensor_noise_taps}")
            taps = torch.zeros(n_channels, 1, sensor_noise_taps)
            level = 0.05 if sensor_noise_std is None else torch.as_tensor(sensor_noise_std)
            taps[:, 0, sensor_noise_taps // 2] = level  # white at first, never exactly zero
            self.sensor_taps = nn.Parameter(taps)
            self.sensor_gain = nn.Linear(feats, n_channels)  # log gain per sample and channel
            nn.init.zeros_(self.sensor_gain.weight)
            nn.init.zeros_(self.sensor_gain.bias)
            self.latent_dim += n_channels * (length + sensor_noise_taps - 1)
        self.noise_bands = sensor_noise_bands
        if sensor_noise_bands:
            if sensor_noise_taps:
                raise ValueError("set sensor_noise_bands or sensor_noise_taps, not both")
            k = sensor_noise_bands
            level = torch.full((n_channels,), 0.05)
            if sensor_noise_std is not None:
                level = torch.as_tensor(sensor_noise_std, dtype=torch.float32)
            # Parameters scaled by 1 / _FAST: Adam's step in the log gain is _FAST * lr.
            self.band_log_gain = nn.Parameter(level.log()[:, None].repeat(1, k) / _FAST)  # (6, K)
            self.band_log_spread = nn.Parameter(torch.full((2, n_channels, k), -1.0) / _FAST)
            self.band_head = nn.Linear(feats, n_channels * k)  # class/latent-dependent mean
            nn.init.zeros_(self.band_head.weight)
            nn.init.zeros_(self.band_head.bias)
            self.register_buffer("band_interp", _band_interp(k, length // 2 + 1), persistent=False)
            self.latent_dim += n_channels * length + 1 + n_channels * k
        for name, on in (("mix", sensor_noise_mix), ("envelope", sensor_noise_envelope)):
            if on and not sensor_noise_bands:
                raise ValueError(
                    f"sensor_noise_{name} reshapes the band noise: set sensor_noise_bands"
                )
        self.noise_z_end = self.latent_dim  # z[:, trunk_z_dim:noise_z_end]: the noise draws
        if self.joint_reversal:
            self.latent_dim += 1  # the last coordinate: its sign alone plays a window backwards
        self.noise_mix = None
        if sensor_noise_mix:
            # Scaled by 1 / _FAST like the log gains; the matrix is eye + _FAST * noise_mix.
            self.noise_mix = nn.Parameter(torch.zeros(n_channels, n_channels))
        self.noise_envelope = None
        if sensor_noise_envelope:
            self.noise_envelope = nn.Conv1d(feats, n_channels, 1)  # log envelope (B, 6, T)
            nn.init.zeros_(self.noise_envelope.weight)
            nn.init.zeros_(self.noise_envelope.bias)
        if sensor_noise_envelope_max and not (
            sensor_noise_envelope and sensor_noise_envelope_max > 1
        ):
            raise ValueError("sensor_noise_envelope_max bounds the envelope: set it > 1 with one")
        self.envelope_bound = (
            math.log(sensor_noise_envelope_max) if sensor_noise_envelope_max else 0.0
        )
        self._last_residual: Tensor | None = None

    @property
    def joint_limits(self) -> Tensor:
        """(J, 2) lower and upper joint limits in radians."""
        return torch.cat([self.q_low, self.q_low + self.q_range], dim=2)[0]

    def forward(self, z: Tensor, y: Tensor | None = None, side: Tensor | None = None) -> Tensor:
        return self.forward_with_joints(z, y, side).x  # (B, 6, T)

    def forward_with_joints(
        self, z: Tensor, y: Tensor | None = None, side: Tensor | None = None
    ) -> KinematicSample:
        """The window together with the joint angles and mount that made it."""
        h = self.trunk(z[:, : self.trunk_z_dim], y, side)  # (B, F, T)
        # Only the trunk may run under autocast (train.precision bf16/fp16): the arm
        # differentiates the joint angles twice in time (rounding grows by fs**2), so the
        # heads, the arm, the sensor noise and the normalisation stay float32.
        with torch.autocast(h.device.type, enabled=False):
            if h.dtype in (torch.float16, torch.bfloat16):  # the trunk ran under autocast
                h = h.float()
            periodic = None if self.harmonic_head is None else self._repetition(h)
            q = self._joint_angles(self.joint_head(h), periodic)  # (B, J, T)
            back = None
            if self.joint_reversal:  # half the windows backwards, by a latent only this reads
                back = z[:, -1:, None] < 0  # (B, 1, 1)
                q = torch.where(back, q.flip(-1), q)
            mount = self.mount_max * torch.tanh(self.mount_head(h.mean(dim=-1)))  # (B, 3)
            imu = self._imu(q, mount, side)  # (B, 6, T) physical units
            x = (imu - self.channel_mean) / self.channel_scale
            if self.residual_head is not None:
                residual = self.residual_head(h)  # (B, 6, T)
                if back is not None:
                    residual = torch.where(back, residual.flip(-1), residual)
                x = x + residual
            else:
                residual = torch.zeros_like(x)
            noise_z = z[:, self.trunk_z_dim : self.noise_z_end]
            if self.sensor_taps is not None:
                x = x + self._sensor_noise(noise_z, h)
            if self.noise_bands:
                x = x + self._band_noise(noise_z, h)
        self._last_residual = residual
        return KinematicSample(x=x, joint_angles=q, mount=mount, residual=residual)

    def penalty(self) -> Tensor:
        """Mean square of the last forward's residual (the loop adds it to the G loss)."""
        residual, self._last_residual = self._last_residual, None
        if residual is None:
            return torch.zeros((), device=self.channel_mean.device)
        return residual.pow(2).mean()

    @torch.no_grad()
    def residual_share(self, n: int = 128, seed: int = 0) -> dict[str, float]:
        """The residual branch's share of the output power, per sensor.

        Mean square of the residual over mean square of the output (normalised units) on
        ``n`` windows from seeded noise, every class and side in turn: ``{"accel": ...,
        "gyro": ...}``, 0 without a residual branch. Near 0 the arm makes the windows;
        above :data:`RESIDUAL_SHARE_BOUND` the residual does, and the kinematic constraint
        is bypassed.

        Examples
        --------
        >>> g = KinematicGenerator(6, 64, 2, width=32, n_blocks=2)
        >>> share = g.residual_share(n=8)
        >>> sorted(share), share["accel"] < RESIDUAL_SHARE_BOUND
        (['accel', 'gyro'], True)
        """
        dev = self.channel_mean.device
        idx = torch.arange(n, device=dev)
        y = idx % self.num_classes if self.num_classes else None
        side = (idx // max(self.num_classes, 1)) % self.n_sides if self.n_sides else None
        out = self.sample_with_joints(n, y, side, seed=seed)
        share = {}
        for name, rows in (("accel", slice(0, 3)), ("gyro", slice(3, 6))):
            power = out.x[:, rows].pow(2).mean().clamp_min(1e-12)
            share[name] = float(out.residual[:, rows].pow(2).mean() / power)
        return share

    @torch.no_grad()
    def sample_with_joints(
        self, n: int, y: Tensor | None = None, side: Tensor | None = None, seed: int = 0
    ) -> KinematicSample:
        """``n`` samples from seeded noise (normalised windows and their joint angles)."""
        dev = self.channel_mean.device
        gen = torch.Generator(device=dev).manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen, device=dev)
        return self.forward_with_joints(z, y, side)

    def _sensor_noise(self, white: Tensor, h: Tensor) -> Tensor:
        b, c = white.shape[0], self.n_channels
        white = white.reshape(b, c, -1)  # (B, 6, T + K - 1)
        coloured = F.conv1d(white, self.sensor_taps, groups=c)  # (B, 6, T)
        gain = torch.exp(self.sensor_gain(h.mean(dim=-1)))  # (B, 6)
        return coloured * gain[:, :, None]

    def band_log_gains(self, eps: Tensor, h: Tensor) -> Tensor:
        """Log gains ``(B, 6, K)`` of the band noise for draws ``eps`` ``(B, 1 + 6 K)``."""
        b, c, k = eps.shape[0], self.n_channels, self.noise_bands
        shared, own = eps[:, :1, None], eps[:, 1:].reshape(b, c, k)  # (B, 1, 1), (B, 6, K)
        spread = torch.exp(_FAST * self.band_log_spread)  # (2, 6, K)
        mean = _FAST * self.band_log_gain + self.band_head(h.mean(dim=-1)).view(b, c, k)
        return mean + spread[0] * shared + spread[1] * own  # (B, 6, K)

    def _band_noise(self, z: Tensor, h: Tensor) -> Tensor:
        b, c, t = z.shape[0], self.n_channels, self.length
        white = z[:, : c * t].reshape(b, c, t)  # (B, 6, T)
        log_gain = self.band_log_gains(z[:, c * t :], h) @ self.band_interp  # (B, 6, T//2+1)
        # Circular filtering in the frequency domain: white noise stays stationary and the
        # window's ends get no transient (an FIR's edge effects are spikes to a judge).
        spec = torch.fft.rfft(white, dim=-1) * torch.exp(log_gain)
        noise = torch.fft.irfft(spec, n=t, dim=-1)  # (B, 6, T)
        if self.noise_mix is not None:
            mix = torch.eye(c, device=noise.device) + _FAST * self.noise_mix  # (6, 6)
            noise = torch.einsum("ij,bjt->bit", mix, noise)
        if self.noise_envelope is not None:
            log_env = self.noise_envelope(h)  # (B, 6, T)
            log_env = log_env - log_env.mean(dim=-1, keepdim=True)
            if self.envelope_bound:
                log_env = self.envelope_bound * torch.tanh(log_env / self.envelope_bound)
            noise = noise * torch.exp(log_env)
        return noise

    def _repetition(self, h: Tensor) -> Tensor:
        """The periodic part ``(B, J, T)`` of the joint paths (before the joint limits)."""
        out = self.harmonic_head(h.mean(dim=-1))  # (B, J 2 K + 1)
        b, k = out.shape[0], self.harmonic_kt.shape[0]
        lo, hi = HARMONIC_HZ
        f0 = lo + (hi - lo) * torch.sigmoid(out[:, -1])  # (B,) Hz
        if self.joint_symmetric:
            # q_j(t) = sum_k A_jk cos(k (w t - phi_j)): even about t = phi_j / w, so each
            # joint's repetition is the same played backwards (joints keep their own lags)
            per = out[:, :-1].view(b, -1, k + 2)  # (B, J, K amplitudes | phase vector)
            phi = torch.atan2(per[:, :, k + 1], per[:, :, k])  # (B, J)
            kphi = phi[:, :, None] * torch.arange(1, k + 1, device=out.device)  # (B, J, K)
            a = per[:, :, :k]
            amp = torch.stack((a * torch.cos(kphi), a * torch.sin(kphi)), dim=2)  # (B, J, 2, K)
        else:
            amp = out[:, :-1].view(b, -1, 2, k)  # (B, J, cos | sin, K)
        phase = 2 * math.pi * f0[:, None, None] * self.harmonic_kt  # (B, K, T)
        return torch.einsum("bjk,bkt->bjt", amp[:, :, 0], torch.cos(phase)) + torch.einsum(
            "bjk,bkt->bjt", amp[:, :, 1], torch.sin(phase)
        )

    def _joint_angles(self, raw: Tensor, periodic: Tensor | None = None) -> Tensor:
        # Band-limit: average to the coarse rate, interpolate back, then a Hann smoother, so
        # the trajectories have no kinks (which the accelerometer would see as spikes).
        coarse = F.avg_pool1d(
            raw, self.joint_stride, self.joint_stride, ceil_mode=True
        )  # (B, J, Tc)
        fine = F.interpolate(
            coarse, size=self.length, mode="linear", align_corners=False
        )  # (B, J, T)
        pad = self.smoother.shape[-1] // 2
        fine = F.pad(fine, (pad, pad), mode="replicate")  # (B, J, T + 2 pad)
        kernel = self.smoother.expand(fine.shape[1], 1, -1)  # (J, 1, K) depthwise
        smooth = F.conv1d(fine, kernel, groups=fine.shape[1])  # (B, J, T)
        if periodic is not None:
            smooth = smooth + periodic
        return self.q_low + self.q_range * torch.sigmoid(smooth + self.q_offset)

    def _imu(self, q: Tensor, mount: Tensor, side: Tensor | None) -> Tensor:
        out = self.arm(q, self.fs)  # right arm, nominal mount
        acc, gyro = out.acc, out.gyro  # (B, 3, T) each
        if side is not None:
            # A left arm is the sagittal mirror of the right; ArmModel documents the readings
            # as acc (-ax, ay, az) and gyro (wx, -wy, -wz). Applied per sample with a sign
            # vector, so mixed-side batches need one arm pass and no host sync.
            left = (side == 0).to(acc.dtype)[:, None, None]  # (B, 1, 1)
            flip = small_vector((-1.0, 1.0, 1.0), acc)[None, :, None]
            acc = acc * (1 - left + left * flip)
            gyro = gyro * (1 - left - left * flip)
        rot = axis_angle_to_matrix(mount)  # (B, 3, 3), sensor = nominal @ rot
        acc = torch.einsum("bij,bit->bjt", rot, acc)  # R^T acc, (B, 3, T)
        gyro = torch.einsum("bij,bit->bjt", rot, gyro)
        return torch.cat([acc, gyro], dim=1)  # (B, 6, T)


_FAST = 20.0  # learning-rate multiplier of the band-noise log gains
HARMONIC_HZ = (0.25, 1.25)  # range of the repetition's fundamental (periods of 0.8-4 s)


def max_joint_harmonics(sampling_rate_hz: float, joint_stride: int) -> int:
    """The most harmonics of the fastest fundamental (``HARMONIC_HZ[1]``) that stay at or
    below the Nyquist frequency of joint angles proposed every ``joint_stride`` samples.

    >>> max_joint_harmonics(50.0, 5), max_joint_harmonics(50.0, 2)
    (4, 10)
    """
    return int(sampling_rate_hz / joint_stride / 2 // HARMONIC_HZ[1])


def _band_interp(k: int, n_bins: int) -> Tensor:
    """``(K, n_bins)`` weights interpolating K band values linearly between band centres."""
    centres = (torch.arange(k, dtype=torch.float64) + 0.5) / k  # fractions of Nyquist
    f = torch.linspace(0.0, 1.0, n_bins, dtype=torch.float64).clamp(centres[0], centres[-1])
    w = torch.zeros(k, n_bins, dtype=torch.float64)
    if k == 1:
        return torch.ones(1, n_bins, dtype=torch.float32)
    pos = (f - centres[0]) * k  # in band units from the first centre
    lo = pos.floor().long().clamp(max=k - 2)
    frac = pos - lo
    w[lo, torch.arange(n_bins)] = 1.0 - frac
    w[lo + 1, torch.arange(n_bins)] += frac
    return w.float()


def sensor_segment(placement: str) -> str:
    """The arm segment (``"forearm"`` or ``"upper_arm"``) of a sensor ``placement``.

    Examples
    --------
    >>> sensor_segment("upper-arm-left"), sensor_segment("")
    ('upper_arm', 'forearm')
    """
    if placement not in PLACEMENT_SEGMENTS:
        raise ConfigError(
            f"the kinematic generator models a sensor on the wrist or the upper arm, not "
            f"placement {placement!r}; use model.generator=conv1d for other placements",
            field="model.generator",
        )
    return PLACEMENT_SEGMENTS[placement]


def _hann(size: int) -> Tensor:
    w = torch.hann_window(size + 2, periodic=False, dtype=torch.float32)[1:-1]  # no zero ends
    return (w / w.sum())[None, None, :]  # (1, 1, K)

"""Batched, differentiable rotation utilities in torch.

Conventions
-----------
- Rotation matrices act on column vectors, ``v_world = R @ v_body``; their columns are the body
  axes expressed in the world frame. Shape ``(..., 3, 3)``.
- Axis-angle (rotation vector): ``(..., 3)``, direction = axis, norm = angle in radians.
- Quaternions are scalar-last ``(x, y, z, w)``, as in :mod:`scipy.spatial.transform`, and are
  returned with ``w >= 0``.
- Euler sequences follow scipy: upper-case letters (``"YXY"``) are intrinsic rotations about
  the moving axes, ``R = R_1(a) @ R_2(b) @ R_3(c)``; lower-case (``"yxy"``) are extrinsic,
  ``R = R_3(c) @ R_2(b) @ R_1(a)``.

Every function works for float32 and float64 and keeps gradients, including at the identity
(the small-angle branches use Taylor series so that ``gradcheck`` passes at zero rotation).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "axis_angle_to_matrix",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "rot_x",
    "rot_y",
    "rot_z",
    "skew",
    "vee",
]

_SMALL = 1e-6  # below this squared angle the Taylor series are exact to float64 precision


def _elementary(angle: Tensor, axis: int) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = (one, zero, zero, zero, c, -s, zero, s, c)
    elif axis == 1:
        rows = (c, zero, s, zero, one, zero, -s, zero, c)
    else:
        rows = (c, -s, zero, s, c, zero, zero, zero, one)
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))  # (..., 3, 3)


def rot_x(angle: Tensor) -> Tensor:
    """Rotation by ``angle`` (radians, any shape ``(...)``) about x; returns ``(..., 3, 3)``.

    Examples
    --------
    >>> import torch
    >>> rot_x(torch.tensor(0.0)).shape
    torch.Size([3, 3])
    """
    return _elementary(angle, 0)


def rot_y(angle: Tensor) -> Tensor:
    """Rotation by ``angle`` (radians, shape ``(...)``) about y; returns ``(..., 3, 3)``.

    Examples
    --------
    >>> import torch
    >>> rot_y(torch.zeros(4)).shape
    torch.Size([4, 3, 3])
    """
    return _elementary(angle, 1)


def rot_z(angle: Tensor) -> Tensor:
    """Rotation by ``angle`` (radians, shape ``(...)``) about z; returns ``(..., 3, 3)``.

    Examples
    --------
    >>> import math, torch
    >>> v = rot_z(torch.tensor(math.pi / 2)) @ torch.tensor([1.0, 0.0, 0.0])
    >>> torch.allclose(v, torch.tensor([0.0, 1.0, 0.0]), atol=1e-7)
    True
    """
    return _elementary(angle, 2)


def skew(v: Tensor) -> Tensor:
    """Cross-product matrix ``[v]x`` of ``v`` ``(..., 3)``, so that ``skew(v) @ u = v x u``.

    Examples
    --------
    >>> import torch
    >>> skew(torch.tensor([1.0, 2.0, 3.0]))[0].tolist()
    [0.0, -3.0, 2.0]
    """
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    rows = (zero, -z, y, z, zero, -x, -y, x, zero)
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))  # (..., 3, 3)


def vee(m: Tensor) -> Tensor:
    """Inverse of :func:`skew`, using the antisymmetric part of ``m`` ``(..., 3, 3)``.

    Examples
    --------
    >>> import torch
    >>> vee(skew(torch.tensor([1.0, 2.0, 3.0]))).tolist()
    [1.0, 2.0, 3.0]
    """
    a = 0.5 * (m - m.transpose(-1, -2))
    return torch.stack((a[..., 2, 1], a[..., 0, 2], a[..., 1, 0]), dim=-1)


def axis_angle_to_matrix(v: Tensor) -> Tensor:
    """Rodrigues' formula: rotation vector ``(..., 3)`` to matrix ``(..., 3, 3)``.

    Examples
    --------
    >>> import torch
    >>> axis_angle_to_matrix(torch.zeros(2, 3)).shape
    torch.Size([2, 3, 3])
    """
    theta2 = (v * v).sum(-1)
    small = theta2 < _SMALL
    # Evaluate the exact branch on a safe argument so its (unused) gradient stays finite at 0.
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(safe2)
    a = torch.where(small, 1 - theta2 / 6 + theta2**2 / 120, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24 + theta2**2 / 720, (1 - torch.cos(theta)) / safe2)
    k = skew(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand_as(k)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def quaternion_to_matrix(quat: Tensor) -> Tensor:
    """Unit quaternion ``(..., 4)`` scalar-last ``(x, y, z, w)`` to matrix ``(..., 3, 3)``.

    The quaternion is normalised first, so any non-zero scale is accepted.

    Examples
    --------
    >>> import torch
    >>> quaternion_to_matrix(torch.tensor([0.0, 0.0, 0.0, 2.0])).diagonal().tolist()
    [1.0, 1.0, 1.0]
    """
    q = quat / quat.norm(dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    rows = (
        1 - 2 * (y * y + z * z),
        2 * (x * y - z * w),
        2 * (x * z + y * w),
        2 * (x * y + z * w),
        1 - 2 * (x * x + z * z),
        2 * (y * z - x * w),
        2 * (x * z - y * w),
        2 * (y * z + x * w),
        1 - 2 * (x * x + y * y),
    )
    return torch.stack(rows, dim=-1).unflatten(-1, (3, 3))  # (..., 3, 3)


def matrix_to_quaternion(r: Tensor) -> Tensor:
    """Rotation matrix ``(..., 3, 3)`` to unit quaternion ``(..., 4)``, ``(x, y, z, w)``, w >= 0.

    Shepperd's method: of the four algebraically equivalent formulas, use the one whose
    square root has the largest argument, which keeps the division well conditioned for
    rotations by any angle, including 180 degrees.

    Examples
    --------
    >>> import torch
    >>> matrix_to_quaternion(torch.eye(3)).tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    t = torch.stack(
        (
            1 + r00 - r11 - r22,  # 4 x^2
            1 - r00 + r11 - r22,  # 4 y^2
            1 - r00 - r11 + r22,  # 4 z^2
            1 + r00 + r11 + r22,  # 4 w^2
        ),
        dim=-1,
    )
    # The largest of the four is >= 1, so clamping at 0.25 never changes the chosen branch.
    s = 2 * torch.sqrt(t.clamp_min(0.25))  # 4 * |component|
    cand = torch.stack(
        (
            torch.stack(
                (
                    s[..., 0] / 4,
                    (r01 + r10) / s[..., 0],
                    (r02 + r20) / s[..., 0],
                    (r21 - r12) / s[..., 0],
                ),
                -1,
            ),
            torch.stack(
                (
                    (r01 + r10) / s[..., 1],
                    s[..., 1] / 4,
                    (r12 + r21) / s[..., 1],
                    (r02 - r20) / s[..., 1],
                ),
                -1,
            ),
            torch.stack(
                (
                    (r02 + r20) / s[..., 2],
                    (r12 + r21) / s[..., 2],
                    s[..., 2] / 4,
                    (r10 - r01) / s[..., 2],
                ),
                -1,
            ),
            torch.stack(
                (
                    (r21 - r12) / s[..., 3],
                    (r02 - r20) / s[..., 3],
                    (r10 - r01) / s[..., 3],
                    s[..., 3] / 4,
                ),
                -1,
            ),
        ),
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = t.argmax(dim=-1)  # (...)
    idx = best[..., None, None].expand(*best.shape, 1, 4)
    q = cand.gather(-2, idx).squeeze(-2)  # (..., 4)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., 3:4] < 0, -q, q)


def matrix_to_axis_angle(r: Tensor) -> Tensor:
    """Rotation matrix ``(..., 3, 3)`` to rotation vector ``(..., 3)`` with angle in [0, pi].

    Examples
    --------
    >>> import torch
    >>> v = torch.tensor([0.1, -0.2, 0.3])
    >>> torch.allclose(matrix_to_axis_angle(axis_angle_to_matrix(v)), v, atol=1e-6)
    True
    """
    q = matrix_to_quaternion(r)
    xyz, w = q[..., :3], q[..., 3]
    s2 = (xyz * xyz).sum(-1)
    small = s2 < _SMALL
    s = torch.sqrt(torch.where(small, torch.ones_like(s2), s2))
    angle = 2 * torch.atan2(s, w)
    # Near the identity angle/sin(angle/2) -> 2/w * (1 + s^2/(6 w^2)), smooth in xyz.
    factor = torch.where(small, 2 / w * (1 + s2 / (6 * w * w)), angle / s)
    return xyz * factor[..., None]


_AXES = {"x": 0, "y": 1, "z": 2}


def euler_to_matrix(angles: Tensor, seq: str) -> Tensor:
    """Euler angles ``(..., 3)`` in radians to matrices ``(..., 3, 3)`` (scipy's ``seq`` rules).

    Examples
    --------
    >>> import torch
    >>> euler_to_matrix(torch.zeros(3), "YXY").tolist()[1]
    [0.0, 1.0, 0.0]
    """
    if len(seq) != 3 or not (seq.isupper() or seq.islower()) or set(seq.lower()) - set("xyz"):
        raise ValueError(f"Euler sequence must be 3 letters of xyz, all upper or lower: {seq!r}")
    mats = [_elementary(a, _AXES[c]) for a, c in zip(angles.unbind(-1), seq.lower(), strict=True)]
    if seq.isupper():
        return mats[0] @ mats[1] @ mats[2]
    return mats[2] @ mats[1] @ mats[0]

"""Procedural liver-lesion phantoms: 64x64 CT ROIs of cysts, metastases and hemangiomas.

The 182 portal-venous CT ROIs of Frid-Adar et al. 2018 (53 cysts, 64 metastases, 65
hemangiomas) are not public, so this module draws a stand-in with the same class counts,
the same patient-wise structure and, by design, a comparable difficulty: a small CNN trained
on it without augmentation should land far from 100% (the paper's CNN reached 57%).

Generative model
----------------
Every quantity is drawn from the generator passed in; images are built in Hounsfield units
(HU) and windowed to ``[-1, 1]`` at the end. Lengths are for a 64 px ROI (they scale with
``size``); lesion levels are in HU relative to the patient's parenchyma.

Patients. Each of ``n_patients`` patients has a parenchyma density ``N(100, 12)`` HU; a
noise level ``U(8, 20)`` HU and a noise grain ``U(0.7, 1.4)`` px (dose, reconstruction
kernel); a partial-volume blur ``U(0.6, 1.5)`` px (slice thickness, ROI resizing); a lesion
size factor ``exp(N(0, 0.2))``; and a parenchyma texture amplitude ``U(3, 8)`` HU. Every
patient gets one lesion, and the rest cluster by class through a per-class Dirichlet(0.5)
over patients (a patient with metastases tends to have several).

Liver. Parenchyma = density + smooth texture (a Gaussian random field, 3-6 px) + 0-3
contrast-filled vessels (+30..+80 HU tubes 0.8-2 px wide across the ROI, which in places
look like a hemangioma's nodules) + with probability 0.2 the liver edge, fat at -90 HU
beyond a line near the ROI's border.

Lesion outline. Centre at the ROI centre ± N(0, 2.5) px; radius = size factor x
lognormal(median 13 / 15 / 14 px for cyst / metastasis / hemangioma, sd 0.3), clipped to
[6, 24] px; outline ``r(θ) = r (1 + Σ_k a_k cos(kθ + φ_k))``, k = 2..5, with irregularity
``U(0, .08)`` / ``U(.04, .22)`` / ``U(.03, .15)``; the lesion mask is a sigmoid of the
distance to the outline with edge width ``U(.4, 1.2)`` / ``U(.8, 2.6)`` / ``U(.6, 2)`` px.

Lesion content:

- cyst: fluid, homogeneous, ``U(-100, -55)`` HU, internal variation at most 2 HU;
- metastasis: hypodense ``U(-70, -30)`` HU, heterogeneous (a 2 px random field of
  ``U(6, 18)`` HU), a darker necrotic centre with probability 0.4 (``U(-30, -8)`` HU within
  half the radius), and rim enhancement with probability 0.85 (a ring 1-2.5 px wide just
  inside the outline, blended towards ``U(-10, 20)`` HU);
- hemangioma: hypodense ``U(-75, -35)`` HU with 3-7 peripheral nodules (Gaussian blobs
  1.2-3 px at 0.7-0.95 r) that follow the blood pool at ``U(45, 105)`` HU, and centripetal
  fill: the band beyond ``(1 - f) r``, ``f ~ U(0, 0.6)``, is raised 20-60% of the way to
  the nodule level.

The overlaps are deliberate: the size and contrast ranges of the classes overlap, a
hemangioma with small nodules and no fill is a dark round lesion like a cyst, a metastasis
without rim is a dark lesion like a heterogeneous cyst, and vessels mimic nodules.

Acquisition. The HU map is blurred by the patient's partial-volume kernel, then CT-like
noise is added: white noise band-passed by a difference of Gaussians (grain and 2.5 x
grain), which gives the mid-frequency noise power spectrum of filtered back-projection,
scaled to the patient's noise level. The result is windowed to [-50, 200] HU (a liver
window) and mapped linearly to [-1, 1], clipped, as the GAN's tanh output range expects.

Difficulty (measured on the defaults, phantom seeds 0-2): the paper's CNN (conv 32-64-128,
dense 256, dropout 0.5, Adam 1e-3, 40 epochs, batch 32) without augmentation reaches
0.59 ± 0.06 accuracy under patient-wise stratified 3-fold CV (0.60 ± 0.09 after 100
epochs), and 0.67 ± 0.08 with on-the-fly classic augmentation (flips, rotation, translation,
scaling; 100 epochs); the paper reported 57% and 78.6%.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from imusynth.errors import ConfigError

__all__ = ["PHANTOM_CLASSES", "make_liver_phantoms"]

PHANTOM_CLASSES: tuple[str, str, str] = ("cyst", "metastasis", "hemangioma")

_WINDOW_HU = (-50.0, 200.0)
_RADIUS_MEDIAN = (13.0, 15.0, 14.0)
_IRREGULARITY = ((0.0, 0.08), (0.04, 0.22), (0.03, 0.15))
_EDGE_WIDTH = ((0.4, 1.2), (0.8, 2.6), (0.6, 2.0))
_NOISE_HU = (8.0, 20.0)
# Lesion levels in HU relative to the parenchyma.
_CYST_HU = (-100.0, -55.0)
_MET_HU = (-70.0, -30.0)
_MET_TEXTURE_HU = (6.0, 18.0)
_MET_RIM_P = 0.85
_MET_RIM_HU = (-10.0, 20.0)
_HEM_HU = (-75.0, -35.0)
_HEM_NODULE_HU = (45.0, 105.0)  # nodules follow the blood pool, brighter than parenchyma
_HEM_FILL = (0.0, 0.6)
_N_VESSELS = 3


def make_liver_phantoms(
    n_per_class: tuple[int, ...] = (53, 64, 65),
    n_patients: int = 60,
    size: int = 64,
    *,
    rng: np.random.Generator,
) -> dict[str, object]:
    """Draw liver-lesion ROIs with patient structure; see the module docstring for the model.

    Parameters
    ----------
    n_per_class : tuple of 3 int
        Lesions per class, in the order of :data:`PHANTOM_CLASSES`; the default matches
        Frid-Adar et al. 2018.
    n_patients : int
        Number of patients; each has at least one lesion, so it cannot exceed the total.
    size : int
        Side of the square ROI in pixels. Lengths in the model are for 64 px and scale with
        ``size``.
    rng : numpy.random.Generator
        Source of every random number (keyword, required: a phantom set is always
        reproducible).

    Returns
    -------
    dict
        ``X`` (N, 1, size, size) float32 in [-1, 1]; ``y`` (N,) int64 codes into
        ``classes``; ``groups`` (N,) str patient ids ``"P000"``...; ``classes`` tuple of
        str; ``masks`` (N, size, size) bool, the lesion (soft mask > 0.5), for statistics.

    Examples
    --------
    >>> d = make_liver_phantoms((3, 3, 3), n_patients=4, rng=np.random.default_rng(0))
    >>> d["X"].shape, d["X"].dtype, np.bincount(d["y"]).tolist(), np.unique(d["groups"]).tolist()
    ((9, 1, 64, 64), dtype('float32'), [3, 3, 3], ['P000', 'P001', 'P002', 'P003'])
    """
    counts = [int(c) for c in n_per_class]
    if len(counts) != len(PHANTOM_CLASSES) or min(counts) < 0 or sum(counts) == 0:
        raise ConfigError(
            f"need {len(PHANTOM_CLASSES)} non-negative counts, not all zero, got {n_per_class}",
            field="n_per_class",
        )
    total = sum(counts)
    if not 1 <= n_patients <= total:
        raise ConfigError(
            f"must lie in [1, {total}] (every patient has a lesion), got {n_patients}",
            field="n_patients",
        )
    if size < 16:
        raise ConfigError(f"must be at least 16 pixels, got {size}", field="size")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError("pass a numpy.random.Generator", field="rng")

    y = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    patient_of = _assign_patients(y, n_patients, rng)
    patients = [_draw_patient(rng) for _ in range(n_patients)]
    scale = size / 64.0
    X = np.empty((total, 1, size, size), dtype=np.float32)
    masks = np.empty((total, size, size), dtype=bool)
    for i in range(total):
        hu, mask = _draw_roi(int(y[i]), patients[patient_of[i]], size, scale, rng)
        lo, hi = _WINDOW_HU
        X[i, 0] = np.clip(2.0 * (hu - lo) / (hi - lo) - 1.0, -1.0, 1.0)
        masks[i] = mask > 0.5
    groups = np.array([f"P{p:03d}" for p in patient_of])
    return {"X": X, "y": y, "groups": groups, "classes": PHANTOM_CLASSES, "masks": masks}


def _assign_patients(y: np.ndarray, n_patients: int, rng: np.random.Generator) -> np.ndarray:
    """Give every patient one lesion, then cluster the rest by class (Dirichlet weights)."""
    order = rng.permutation(len(y))
    patient_of = np.empty(len(y), dtype=np.int64)
    patient_of[order[:n_patients]] = np.arange(n_patients)
    weights = rng.dirichlet(np.full(n_patients, 0.5), size=int(y.max()) + 1)
    for i in order[n_patients:]:
        patient_of[i] = rng.choice(n_patients, p=weights[y[i]])
    return patient_of


def _draw_patient(rng: np.random.Generator) -> dict[str, float]:
    return {
        "liver_hu": float(np.clip(rng.normal(100.0, 12.0), 65.0, 140.0)),
        "noise_hu": rng.uniform(*_NOISE_HU),
        "grain": rng.uniform(0.7, 1.4),
        "blur": rng.uniform(0.6, 1.5),
        "size_factor": float(np.exp(rng.normal(0.0, 0.2))),
        "texture_hu": rng.uniform(3.0, 8.0),
    }


def _draw_roi(
    label: int, patient: dict[str, float], size: int, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One ROI in HU and its soft lesion mask, both (size, size)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    hu = _parenchyma(patient, size, scale, yy, xx, rng)

    centre = (size - 1) / 2.0 + rng.normal(0.0, 2.5 * scale, size=2)
    radius = patient["size_factor"] * _RADIUS_MEDIAN[label] * np.exp(rng.normal(0.0, 0.3))
    radius = float(np.clip(radius, 6.0, 24.0)) * scale
    dy, dx = yy - centre[0], xx - centre[1]
    rho = np.hypot(dy, dx)
    theta = np.arctan2(dy, dx)
    irregularity = rng.uniform(*_IRREGULARITY[label])
    outline = np.ones_like(theta)
    for k in range(2, 6):
        outline += rng.normal(0.0, irregularity / np.sqrt(k - 1)) * np.cos(
            k * theta + rng.uniform(0, 2 * np.pi)
        )
    outline = radius * np.clip(outline, 0.5, 1.6)
    edge = rng.uniform(*_EDGE_WIDTH[label]) * scale
    mask = _sigmoid((outline - rho) / edge)
    depth = outline - rho  # px inside the outline (negative outside)

    if label == 0:
        content = rng.uniform(*_CYST_HU) + _smooth_noise(size, 3.0 * scale, rng) * (
            rng.uniform(0.0, 2.0)
        )
    elif label == 1:
        content = rng.uniform(*_MET_HU) + _smooth_noise(size, 2.0 * scale, rng) * (
            rng.uniform(*_MET_TEXTURE_HU)
        )
        if rng.random() < 0.4:
            content = content + rng.uniform(-30.0, -8.0) * _sigmoid(
                (0.5 * radius - rho) / (1.5 * scale)
            )
        if rng.random() < _MET_RIM_P:
            # Viable tumour at the margin enhances: blend a ring towards the rim level.
            width = rng.uniform(1.0, 2.5) * scale
            ring = np.exp(-0.5 * ((depth - width) / width) ** 2)
            content = content + (rng.uniform(*_MET_RIM_HU) - content) * ring
    else:
        base = rng.uniform(*_HEM_HU)
        level = rng.uniform(*_HEM_NODULE_HU)
        fill = rng.uniform(*_HEM_FILL)
        # Centripetal fill: the band beyond (1 - fill) r has partly taken up contrast.
        band = _sigmoid((rho - (1.0 - fill) * outline) / scale)
        content = base + (level - base) * rng.uniform(0.2, 0.6) * band
        nodules = np.zeros_like(rho)
        for _ in range(int(rng.integers(3, 8))):
            angle = rng.uniform(0, 2 * np.pi)
            r_nod = rng.uniform(0.7, 0.95) * radius
            width = rng.uniform(1.2, 3.0) * scale
            ny, nx = centre + r_nod * np.array([np.sin(angle), np.cos(angle)])
            blob = np.exp(-0.5 * ((yy - ny) ** 2 + (xx - nx) ** 2) / width**2)
            nodules = np.maximum(nodules, blob)
        content = content + (level - content) * nodules
    hu = hu + mask * content

    hu = ndimage.gaussian_filter(hu, patient["blur"] * scale, mode="nearest")
    hu = hu + patient["noise_hu"] * _ct_noise(size, patient["grain"] * scale, rng)
    return hu, mask


def _parenchyma(
    patient: dict[str, float],
    size: int,
    scale: float,
    yy: np.ndarray,
    xx: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    hu = patient["liver_hu"] + patient["texture_hu"] * _smooth_noise(
        size, rng.uniform(3.0, 6.0) * scale, rng
    )
    for _ in range(int(rng.integers(0, _N_VESSELS + 1))):
        # A vessel: a tube along a random line, brighter than parenchyma (contrast-filled).
        point = rng.uniform(0, size - 1, size=2)
        angle = rng.uniform(0, np.pi)
        dist = np.abs((yy - point[0]) * np.cos(angle) - (xx - point[1]) * np.sin(angle))
        width = rng.uniform(0.8, 2.0) * scale
        hu = hu + rng.uniform(30.0, 80.0) * _sigmoid((width - dist) / (0.5 * scale))
    if rng.random() < 0.2:
        # The liver edge: fat beyond a line that passes near a border of the ROI.
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(0.38, 0.5) * size
        c = (size - 1) / 2.0
        signed = (yy - c) * np.sin(angle) + (xx - c) * np.cos(angle) - offset
        hu = hu + (-90.0 - hu) * _sigmoid(signed / (0.8 * scale))
    return hu


def _smooth_noise(size: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian random field with correlation length ``sigma`` px."""
    field = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma, mode="wrap")
    return field / max(float(field.std()), 1e-12)


def _ct_noise(size: int, grain: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance band-pass noise: the mid-frequency noise power of filtered back-projection."""
    white = rng.normal(size=(size, size))
    field = ndimage.gaussian_filter(white, grain, mode="wrap") - ndimage.gaussian_filter(
        white, 2.5 * grain, mode="wrap"
    )
    return field / max(float(field.std()), 1e-12)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))

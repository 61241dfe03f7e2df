"""The arms of the studies, a registry: arm name -> the function that builds its training set.

Arms of the augmentation study (``kind = "augmentation"``):

- ``real``: real training windows only.
- ``classical``: plus ``n_added`` classically augmented windows per class.
- ``cgan:<generator>``: plus ``n_added`` synthetic windows per class.
- ``cgan_filtered:<generator>``: the same number, kept from :data:`FILTER_FACTOR` times as
  many by a forest on window features fitted on the unit's real training windows: of each
  class, the windows it gives the highest probability of that class
  (:func:`~imusynth.augment.filtering.select_recognised`).
- ``classical+cgan:<generator>``: plus ``n_added / 2`` of each; or, with
  ``grid.classical_base`` set, plus ``classical_base`` classically augmented and ``n_added``
  synthetic windows per class (Frid-Adar et al.: synthetic data added on top of the classic
  augmentation).
- ``synthetic:<generator>``: ``n_added`` synthetic windows per class only (TSTR).

Arms of the rebalancing study (``kind = "rebalancing"``), after the ``rebalance.classes``
have been cut to ``rebalance.fraction`` of their training windows:

- ``reference``: the uncut training set (what imbalance costs is measured against it).
- ``none``, ``class_weight``, ``random_over``, ``smote`` (imbalanced-learn, on flattened
  windows), ``classical_over`` (augmented copies), ``cgan:<generator>`` (synthetic windows),
  ``cgan_filtered:<generator>`` (filtered synthetic windows, as above); every oversampler
  tops each class up to the largest class's count.

A new arm is one function registered with :func:`arm`; it receives an :class:`ArmInput` and
returns the training rows ``(X, y, groups, classifier overrides)``. Rows made from a real
window keep its subject, so that the classifier's early-stopping split (by subject) never
validates on copies of a training subject; GAN and SMOTE rows have no subject (group ``""``)
and always train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from imusynth.augment.recipes import augmenter_for
from imusynth.data import WindowSet
from imusynth.errors import ConfigError

__all__ = ["ARMS", "Arm", "ArmInput", "arm", "arm_spec", "arms_of", "find_arm"]

AUGMENTATION, REBALANCING = ("augmentation",), ("rebalancing",)

# ``cgan_filtered``: synthetic windows drawn per window kept
FILTER_FACTOR = 4

# (X, y, groups, keyword overrides of the arm's classifier)
TrainingRows = tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


@dataclass(frozen=True)
class ArmInput:
    """What an arm builds its training set from: the experiment's ``kind``, ``augment``
    parameters and ``classical_base`` (see :class:`~imusynth.experiments.ExperimentConfig`),
    the unit's training set (cut or not, see :attr:`Arm.uncut`), the cell's number added per
    class, the unit's fitted GAN for ``<arm>:<generator>`` arms (else ``None``) and the
    cell's RNG."""

    kind: str
    augment: dict[str, float]
    classical_base: int
    train: WindowSet
    n_added: int
    gan: Any
    rng: np.random.Generator

    @property
    def counts(self) -> np.ndarray:
        """Training windows per class code."""
        return np.bincount(self.train.y, minlength=self.train.n_classes)

    def top_up(self) -> dict[int, int]:
        """Every class's target when topped up to the largest class's count."""
        counts = self.counts
        return {c: int(counts.max()) for c in range(len(counts))}


@dataclass(frozen=True)
class Arm:
    """One registered arm: its name, the studies it belongs to and how it builds its rows.

    ``generator``: written ``<name>:<generator>`` and given that generator's GAN;
    ``uncut``: trains on the training set before the rare classes are cut; ``real``: keeps
    the real training windows (``n_train_real`` of its rows counts them).
    """

    name: str
    kinds: tuple[str, ...]
    build: Callable[[ArmInput], TrainingRows]
    generator: bool = False
    uncut: bool = False
    real: bool = True


ARMS: dict[str, Arm] = {}


def arm(
    name: str,
    kinds: tuple[str, ...],
    *,
    generator: bool = False,
    uncut: bool = False,
    real: bool = True,
) -> Callable[[Callable[[ArmInput], TrainingRows]], Callable[[ArmInput], TrainingRows]]:
    """Register the decorated function as arm ``name`` of the studies ``kinds``."""

    def register(build: Callable[[ArmInput], TrainingRows]) -> Callable[[ArmInput], TrainingRows]:
        ARMS[name] = Arm(name, kinds, build, generator, uncut, real)
        return build

    return register


def find_arm(base: str) -> Arm | None:
    """The registered arm ``base`` (an arm's name without its ``:<generator>``), or None."""
    return ARMS.get(base)


def arm_spec(base: str) -> Arm:
    """The registered arm ``base``; a :class:`ConfigError` if there is none."""
    spec = find_arm(base)
    if spec is None:
        raise ConfigError(f"unknown arm {base!r}", field="grid.arms")
    return spec


def arms_of(kind: str) -> tuple[str, ...]:
    """The names of the arms of study ``kind``, in the order they were registered."""
    return tuple(name for name, spec in ARMS.items() if kind in spec.kinds)


# The order of registration is the order of AUG_ARMS and REB_ARMS.
@arm("none", REBALANCING)
@arm("reference", REBALANCING, uncut=True)
@arm("real", AUGMENTATION)
def _real(a: ArmInput) -> TrainingRows:
    return a.train.X, a.train.y, a.train.groups, {}


@arm("class_weight", REBALANCING)
def _class_weight(a: ArmInput) -> TrainingRows:
    return a.train.X, a.train.y, a.train.groups, {"class_weight": "balanced"}


@arm("classical", AUGMENTATION)
def _classical(a: ArmInput) -> TrainingRows:
    counts = a.counts
    return _augmented(a, {c: counts[c] + a.n_added for c in range(len(counts))})


@arm("random_over", REBALANCING)
def _random_over(a: ArmInput) -> TrainingRows:
    return _oversampled(a, smote=False)


@arm("smote", REBALANCING)
def _smote(a: ArmInput) -> TrainingRows:
    return _oversampled(a, smote=True)


@arm("classical_over", REBALANCING)
def _classical_over(a: ArmInput) -> TrainingRows:
    return _augmented(a, a.top_up())


@arm("cgan", AUGMENTATION + REBALANCING, generator=True)
def _cgan(a: ArmInput) -> TrainingRows:
    return _with_synthetic(a, a.train.X, a.train.y, a.train.groups, _synthetic_counts(a))


def _synthetic_counts(a: ArmInput) -> int | dict[int, int]:
    """How many synthetic windows a GAN arm adds: up to the largest class's count, per class
    (rebalancing), or ``n_added`` of every class (augmentation)."""
    if a.kind == "rebalancing":
        counts, top_up = a.counts, a.top_up()
        return {c: top_up[c] - int(counts[c]) for c in top_up}
    return a.n_added


@arm("cgan_filtered", AUGMENTATION + REBALANCING, generator=True)
def _cgan_filtered(a: ArmInput) -> TrainingRows:
    """As ``cgan``, with :data:`FILTER_FACTOR` times the synthetic windows drawn and the
    ones a forest fitted on the unit's real training windows recognises best kept."""
    X, y = a.train.X, a.train.y
    need = _synthetic_counts(a)
    if not isinstance(need, dict):
        need = dict.fromkeys(range(a.train.n_classes), need)
    from imusynth.augment.filtering import select_recognised
    from imusynth.models.features import FeatureRandomForest

    Xs, ys = _sample(a.gan, {c: FILTER_FACTOR * n for c, n in need.items() if n > 0}, a.rng)
    judge = FeatureRandomForest(
        200, class_weight="balanced", random_state=int(a.rng.integers(2**31)), n_jobs=1
    ).fit(X, y)
    return _plus_synthetic(X, y, a.train.groups, *select_recognised(Xs, ys, need, judge))


@arm("classical+cgan", AUGMENTATION, generator=True)
def _classical_cgan(a: ArmInput) -> TrainingRows:
    if a.classical_base:
        n_classic, n_synthetic = a.classical_base, a.n_added
    else:
        n_classic, n_synthetic = a.n_added // 2, a.n_added - a.n_added // 2
    counts = a.counts
    Xa, ya, ga, _ = _augmented(a, {c: counts[c] + n_classic for c in range(len(counts))})
    return _with_synthetic(a, Xa, ya, ga, n_synthetic)


@arm("synthetic", AUGMENTATION, generator=True, real=False)
def _synthetic(a: ArmInput) -> TrainingRows:
    Xs, ys = _sample(a.gan, a.n_added, a.rng)
    return Xs, ys, np.full(len(ys), ""), {}


def _oversampled(a: ArmInput, smote: bool) -> TrainingRows:
    """imbalanced-learn's random over-sampler or SMOTE, on flattened windows."""
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    X, y, g = a.train.X, a.train.y, a.train.groups
    counts = a.counts
    state = int(a.rng.integers(2**31))
    if not smote:
        sampler = RandomOverSampler(random_state=state)
    else:
        k = min(5, int(counts[counts > 0].min()) - 1)
        sampler = SMOTE(k_neighbors=k, random_state=state)
    Xf, yr = sampler.fit_resample(X.reshape(len(X), -1), y)  # (N, C*T)
    Xr = Xf.reshape((-1,) + X.shape[1:]).astype(np.float32)  # (N', C, T)
    if not smote:
        gr = g[sampler.sample_indices_]
    else:
        gr = np.concatenate([g, np.full(len(yr) - len(y), "")])
    return Xr, yr, gr, {}


def _augmented(a: ArmInput, targets: dict[int, int]) -> TrainingRows:
    """The training set with classically augmented copies up to ``targets`` per class."""
    from imusynth.augment import augment_to_counts

    X, y, groups = a.train.X, a.train.y, a.train.groups
    augmenter = augmenter_for(a.augment, X.ndim)
    Xa, ya, src = augment_to_counts(X, y, targets, augmenter, a.rng, return_indices=True)
    return Xa, ya, groups[src], {}


def _with_synthetic(a: ArmInput, X, y, groups, per_class) -> TrainingRows:
    return _plus_synthetic(X, y, groups, *_sample(a.gan, per_class, a.rng))


def _plus_synthetic(X, y, groups, Xs, ys) -> TrainingRows:
    """The rows ``X, y, groups`` and the synthetic ``Xs, ys`` (of no subject) after them."""
    return (
        np.concatenate([X, Xs]),
        np.concatenate([y, ys]),
        np.concatenate([groups, np.full(len(ys), "")]),
        {},
    )


def _sample(gan, per_class: int | dict[int, int], rng: np.random.Generator):
    """Synthetic windows; ``per_class`` is a count for every class or one per class code."""
    if isinstance(per_class, dict):
        per_class = {str(gan.classes_[c]): int(n) for c, n in per_class.items()}
    Xs, ys = gan.sample(n_per_class=per_class, seed=int(rng.integers(2**31)))
    return np.asarray(Xs, np.float32), np.asarray(ys, np.int64)

"""The grid of an experiment: folds, units and cells, each cell's training set, and the
results table that a resumed run continues.

One cell is (fold, seed, training size, number of added samples, arm); a :class:`Unit` is
the cells that share one training set (fold, seed, training size). Every random choice of a
cell is seeded from its coordinates (:func:`cell_seed`), so a cell gives the same row
whatever runs it and in whatever order. ``results.csv`` holds one row per finished cell;
a partial last row (a kill while it was written) is dropped and a repeated cell counts once.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.data import WindowSet, load_windows, read_windows, subject_kfold
from imusynth.errors import ConfigError
from imusynth.experiments.config import WINDOW_GENERATORS, ExperimentConfig
from imusynth.train.config import IMAGE_GENERATORS

__all__ = [
    "Unit",
    "Wording",
    "check_subject_draws",
    "draw_subjects",
    "iter_rows",
    "make_folds",
    "read_rows",
    "unit_cells",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wording:
    """How summaries and figures name the data: IMU studies split by subject and count
    windows, image studies (the liver-lesion ROIs) split by patient and count images."""

    groups: str  # the units of the group-wise CV
    items: str  # what one row of the data is
    size_column: str  # header of the training-size column of the tables
    added: str  # what the figures say is added per class

    @classmethod
    def of(cls, modality: str | None) -> Wording:
        """``modality`` as ``run_experiment`` saves it in ``data.json``: ``"image"`` or
        ``"windows"`` (also the default for ``None``)."""
        if modality == "image":
            return cls("patients", "images", "training patients", "images")
        return cls("subjects", "windows", "train subjects", "samples")


@dataclass(frozen=True)
class Unit:
    """The cells that share one training set (and therefore one cached GAN per generator)."""

    fold: int
    seed: int
    train_subjects: int


def cell_key(row: dict[str, Any]) -> tuple:
    return (
        int(row["fold"]),
        int(row["seed"]),
        int(row["train_subjects"]),
        int(row["n_added"]),
        str(row["arm"]),
    )


def unit_cells(cfg: ExperimentConfig, unit: Unit) -> list[tuple[int, str]]:
    if cfg.kind == "rebalancing":
        return [(0, arm) for arm in cfg.grid.arms]
    cells = []
    for n in cfg.grid.n_added:
        for arm in cfg.grid.arms:
            if arm == "real" and n != min(cfg.grid.n_added):
                continue  # the real-only arm does not depend on n_added
            if arm != "real" and n == 0:
                continue
            cells.append((n if arm != "real" else 0, arm))
    return cells


def modality(ws: WindowSet) -> str:
    """What ``data.json`` records: ``"image"`` for ``(N, 1, H, W)``, else ``"windows"``."""
    return "image" if ws.X.ndim == 4 else "windows"


def check_generators(cfg: ExperimentConfig, ws: WindowSet) -> None:
    image = ws.X.ndim == 4
    suitable = IMAGE_GENERATORS if image else WINDOW_GENERATORS
    for gen in cfg.generators():
        if gen not in suitable:
            raise ConfigError(
                f"generator {gen!r} does not make {Wording.of(modality(ws)).items}, which "
                f"the data are (use {' or '.join(suitable)})",
                path=cfg.path or None,
                field="grid.arms",
            )


def make_folds(cfg: ExperimentConfig, ws: WindowSet) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-wise folds; with ``cv.stratify`` also balanced by class (Frid-Adar et al.'s
    lesions cluster by class within patients, so plain patient folds can miss a class)."""
    if not cfg.cv.stratify:
        return subject_kfold(ws.groups, cfg.cv.n_splits, seed=0)
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(ws.groups))
    if not 2 <= cfg.cv.n_splits <= n_groups:
        raise ConfigError(
            f"need 2 <= n_splits <= number of {Wording.of(modality(ws)).groups} "
            f"({n_groups}), got {cfg.cv.n_splits}",
            field="cv.n_splits",
        )
    splitter = StratifiedGroupKFold(cfg.cv.n_splits, shuffle=True, random_state=0)
    return [
        (np.asarray(tr), np.asarray(te))
        for tr, te in splitter.split(np.zeros(len(ws.y)), ws.y, ws.groups)
    ]


def load_data(data: str) -> WindowSet:
    return read_windows(data) if data.endswith((".h5", ".hdf5")) else load_windows(data)


def complete_text(path: Path) -> tuple[str, bool]:
    """``path``'s text without a partial last line, and whether one was cut.

    A line is partial when it lacks its newline or has another number of fields than the
    header (``csv`` ends every row it writes with a newline, so only a kill while a row was
    written leaves one).
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if not lines:
        return "", False
    n_fields = len(next(csv.reader([lines[0]])))
    last = lines[-1]
    partial = not last.endswith("\n") or len(next(csv.reader([last]), [])) != n_fields
    if partial:
        lines = lines[:-1]
    return "".join(lines), partial


def repair_tail(path: Path) -> None:
    """Drop a partial last row of ``results.csv`` so rows appended later start on a line of
    their own (its cell counts as not done and runs again)."""
    if not path.exists():
        return
    text, partial = complete_text(path)
    if not partial:
        return
    log.warning("%s: dropping a partial last row (an interrupted write); its cell runs again", path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of ``results.csv``, one per cell (a repeated cell is counted once,
    with a warning)."""
    if not path.exists():
        return []
    text, _ = complete_text(path)
    rows, seen = [], set()
    n_dup = 0
    for row in csv.DictReader(text.splitlines()):
        if None in row or None in row.values():
            continue  # a row with more or fewer fields than the header
        try:
            key = cell_key(row)
        except (KeyError, ValueError):
            continue
        if key in seen:
            n_dup += 1
            continue
        seen.add(key)
        rows.append(row)
    if n_dup:
        log.warning("%s: %d repeated row(s) of a cell ignored (first one kept)", path, n_dup)
    return rows


def append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    new = not path.exists()
    fields = list(rows[0])
    if not new:
        with path.open(newline="") as fh:
            fields = next(csv.reader(fh))
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)
        fh.flush()
        os.fsync(fh.fileno())


def cell_seed(*parts: Any) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def training_set(
    cfg: ExperimentConfig, ws: WindowSet, train_idx: np.ndarray, unit: Unit
) -> WindowSet:
    """The unit's training set: the fold's training subjects, or ``unit.train_subjects`` of
    them drawn so that every class of the fold stays (:func:`draw_subjects`)."""
    train = ws.subset(train_idx)
    if unit.train_subjects:
        subjects = np.unique(train.groups)
        if unit.train_subjects > len(subjects):
            raise ConfigError(
                f"{unit.train_subjects} training {Wording.of(modality(ws)).groups} asked, "
                f"fold has {len(subjects)}",
                field="grid.train_subjects",
            )
        rng = np.random.default_rng(cell_seed("subjects", unit.fold, unit.seed))
        keep = draw_subjects(train.groups, train.y, unit.train_subjects, rng)
        train = train.subset(np.isin(train.groups, keep))
    return train


# Plain draws tried before one is built subject by subject (see draw_subjects).
_REDRAWS = 1000


def draw_subjects(
    groups: np.ndarray, y: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` of the subjects in ``groups`` that together have windows of every class in ``y``.

    The plain draw (``k`` subjects, each set of ``k`` equally likely) is redrawn until its
    subjects hold every class, so the draw is uniform over the sets that do, and where
    every subject has every class it is the plain draw. Should 1,000 redraws find none (a
    class held by few subjects), the set is built one subject at a time, each drawn among
    those that still leave a way to hold every class. Deterministic for a given ``rng``.

    Raises
    ------
    ValueError
        No ``k`` subjects hold every class (:func:`check_subject_draws` says so first, as a
        :class:`~imusynth.errors.ConfigError`).

    Examples
    --------
    >>> groups = np.array(["a", "a", "b", "c", "c"])
    >>> y = np.array([0, 1, 0, 0, 1])  # b has no class 1
    >>> sorted(draw_subjects(groups, y, 1, np.random.default_rng(0)).tolist()) in (["a"], ["c"])
    True
    """
    subjects = np.unique(groups)
    held = _classes_held(groups, y)
    needed = frozenset().union(*held.values())
    for _ in range(_REDRAWS):
        keep = rng.choice(subjects, size=k, replace=False)
        if frozenset().union(*(held[s] for s in keep)) == needed:
            return keep
    if _fewest_covering(needed, held) > k:
        raise ValueError(f"no {k} subjects hold every class")
    keep, missing = [], needed
    for left in range(k - 1, -1, -1):
        options = [
            s
            for s in subjects
            if s not in keep and _fewest_covering(missing - held[s], held) <= left
        ]
        pick = options[rng.integers(len(options))]
        keep.append(pick)
        missing = missing - held[pick]
    return np.array(keep)


def check_subject_draws(
    cfg: ExperimentConfig, ws: WindowSet, folds: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    """Raise :class:`ConfigError` unless every training size of ``grid.train_subjects`` can
    keep every class of every fold's training set; it names the fold, a class a draw of
    that size would lose and the fewest subjects that keep them all."""
    words = Wording.of(modality(ws))
    for fold, (train_idx, _) in enumerate(folds):
        held = _classes_held(ws.groups[train_idx], ws.y[train_idx])
        needed = frozenset().union(*held.values())
        sizes = [k for k in cfg.grid.train_subjects if 0 < k < len(needed)]
        if not sizes:
            continue
        fewest = _fewest_covering(needed, held)
        k = min(sizes)
        if k >= fewest:
            continue
        lost = min(_left_out(needed, held, k))
        have = sorted(s for s, classes in held.items() if lost in classes)
        raise ConfigError(
            f"fold {fold}: no draw of {k} of its {len(held)} training {words.groups} has "
            f"{words.items} of every class (class {ws.classes[lost]!r} is only in "
            f"{', '.join(map(str, have[:5]))}{', ...' if len(have) > 5 else ''}); the fold "
            f"needs at least {fewest} (or 0: all of them)",
            path=cfg.path or None,
            field="grid.train_subjects",
        )


def _classes_held(groups: np.ndarray, y: np.ndarray) -> dict[Any, frozenset[int]]:
    """Each subject's class codes."""
    return {s: frozenset(np.unique(y[groups == s]).tolist()) for s in np.unique(groups)}


def _fewest_covering(missing: frozenset[int], held: dict[Any, frozenset[int]]) -> int:
    """The fewest subjects that together hold every class of ``missing`` (exact: each
    branch takes one of the subjects holding the class that fewest subjects hold)."""
    sets = sorted(set(held.values()), key=sorted)

    @functools.cache
    def fewest(missing: frozenset[int]) -> int:
        if not missing:
            return 0
        rare = min(sorted(missing), key=lambda c: sum(c in h for h in sets))
        return 1 + min(fewest(missing - h) for h in sets if rare in h)

    return fewest(frozenset(missing))


def _left_out(needed: frozenset[int], held: dict[Any, frozenset[int]], k: int) -> frozenset[int]:
    """The classes ``k`` subjects chosen greedily (most classes not yet held) leave out."""
    missing = needed
    for _ in range(k):
        missing = missing - max(held.values(), key=lambda h: len(missing & h))
    return missing


def cut_minority(cfg: ExperimentConfig, train: WindowSet, unit: Unit) -> WindowSet:
    """Keep ``fraction`` of each rare class's windows, whole recordings first (no leakage of
    overlapping windows between what is kept and what is not is possible: all are training)."""
    rng = np.random.default_rng(cell_seed("cut", unit.fold, unit.seed))
    keep = np.ones(len(train), dtype=bool)
    for name in cfg.rebalance.classes:
        if name not in train.classes:
            raise ConfigError(f"unknown class {name!r}", field="rebalance.classes")
        idx = np.flatnonzero(train.y == train.classes.index(name))
        n_keep = max(2, round(cfg.rebalance.fraction * len(idx)))
        drop = rng.permutation(idx)[n_keep:]
        keep[drop] = False
    return train.subset(keep)


def iter_rows(path: str | Path) -> Iterator[dict[str, str]]:
    """The complete rows of a ``results.csv``, one per cell (see :func:`read_rows`)."""
    yield from read_rows(Path(path))

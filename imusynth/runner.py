"""Experiments: augmentation and rebalancing grids under subject-wise cross-validation.

The same runner serves windows ``(N, C, T)`` and images ``(N, 1, H, W)`` (the liver-lesion
study of Frid-Adar et al. 2018, ``experiments/ct_augmentation.toml``): only the data the
config names, the classical augmenter (time-series or image) and the generators differ.

One grid cell is (fold, seed, training size, number of added samples, arm). Everything that
learns from data -- the classifier's normaliser, the augmenters' choice of source windows and
the GANs -- sees the training subjects of the cell's fold only. GANs are trained once per
(fold, seed, training size, generator) and cached on disk, so every arm that uses synthetic
data reuses the same generator. Rows are appended to ``results.csv`` as cells finish; an
interrupted experiment resumes from the rows it has. One experiment at a time writes to a
results folder (:mod:`imusynth.locks`); a second one is refused.

Arms of the augmentation study (``kind = "augmentation"``):

- ``real``: real training windows only.
- ``classical``: plus ``n_added`` classically augmented windows per class.
- ``cgan:<generator>``: plus ``n_added`` synthetic windows per class.
- ``classical+cgan:<generator>``: plus ``n_added / 2`` of each; or, with
  ``grid.classical_base`` set, plus ``classical_base`` classically augmented and ``n_added``
  synthetic windows per class (Frid-Adar et al.: synthetic data added on top of the classic
  augmentation).
- ``synthetic:<generator>``: ``n_added`` synthetic windows per class only (TSTR).

Generators: ``conv1d`` and ``kinematic`` for windows (:class:`imusynth.gan.ConditionalGAN`),
``dcgan`` (one GAN per class) and ``acgan`` for images (:class:`imusynth.gan2d.ImageGAN`).
With ``gan.augment_to`` set, a GAN trains on the fold's training windows classically
augmented to that many per class, as Frid-Adar et al. trained their GANs.

Every row also holds the test confusion matrix (``cm_<true>_<predicted>``), from which
:func:`summarise` writes per-class sensitivity and specificity tables in the layout of
Frid-Adar et al.'s Tables I, II and V.

Arms of the rebalancing study (``kind = "rebalancing"``), after the ``rebalance.classes``
have been cut to ``rebalance.fraction`` of their training windows:

- ``reference``: the uncut training set (what imbalance costs is measured against it).
- ``none``, ``class_weight``, ``random_over``, ``smote`` (imbalanced-learn, on flattened
  windows), ``classical_over`` (augmented copies), ``cgan:<generator>`` (synthetic windows);
  every oversampler tops each class up to the largest class's count.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import importlib
import json
import logging
import math
import os
import threading
import tomllib
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.data import WindowSet, load_windows, read_windows, subject_kfold
from imusynth.errors import ConfigError, DataError
from imusynth.locks import folder_lock
from imusynth.train.config import IMAGE_GENERATORS

__all__ = [
    "ExperimentConfig",
    "Wording",
    "classical_augmenter",
    "image_augmenter",
    "load_experiment",
    "load_saved_config",
    "run_experiment",
    "summarise",
]

log = logging.getLogger(__name__)

KINDS = ("augmentation", "rebalancing")
AUG_ARMS = ("real", "classical", "cgan", "classical+cgan", "synthetic")
REB_ARMS = ("reference", "none", "class_weight", "random_over", "smote", "classical_over", "cgan")
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "minority_recall")
WINDOW_GENERATORS = ("conv1d", "kinematic")
DATA_INFO = "data.json"
CONFIG_INFO = "config.json"
# ExperimentConfig fields holding file paths: saved relative to the results folder.
_PATH_FIELDS = ("data", "gan_config", "path")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment, read from ``experiments/*.toml``.

    ``train_subjects`` of 0 means all training subjects of the fold; ``n_added`` counts
    added windows per class (augmentation study only). ``stratify`` makes the subject-wise
    folds also balance the classes (scikit-learn's ``StratifiedGroupKFold``);
    ``classical_base`` and ``gan_augment_to`` are described in the module docstring.
    """

    name: str
    kind: str
    data: str  # a dataset spec or an HDF5 windows file
    arms: tuple[str, ...]
    n_splits: int = 5
    seeds: tuple[int, ...] = (0,)
    train_subjects: tuple[int, ...] = (0,)
    n_added: tuple[int, ...] = (0,)
    classifier: dict[str, Any] = field(default_factory=dict)
    gan_config: str = "watch_cgan.toml"
    gan_set: tuple[str, ...] = ()
    augment: dict[str, float] = field(default_factory=dict)
    rebalance_classes: tuple[str, ...] = ()
    rebalance_fraction: float = 0.1
    device: str = "cpu"
    path: str = ""
    stratify: bool = False
    classical_base: int = 0
    gan_augment_to: int = 0
    gan_generator_set: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def generators(self) -> tuple[str, ...]:
        return tuple(sorted({a.split(":", 1)[1] for a in self.arms if ":" in a}))


_TOP = {"name", "kind", "data", "cv", "grid", "classifier", "gan", "augment", "rebalance", "quick"}


def _generator_set(table: dict[str, Any], path: Path) -> dict[str, tuple[str, ...]]:
    """``gan.generator_set``: extra ``--set`` overrides for one generator only, e.g.
    ``{ acgan = ["train.steps=1200"] }``."""
    out = {}
    for gen, values in table.items():
        if gen not in WINDOW_GENERATORS + IMAGE_GENERATORS:
            raise ConfigError(f"unknown generator {gen!r}", path=path, field="gan.generator_set")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(
                "expected a list of key=value strings", path=path, field=f"gan.generator_set.{gen}"
            )
        out[gen] = tuple(values)
    return out


def load_experiment(path: str | Path, *, quick: bool = False) -> ExperimentConfig:
    """Read an experiment TOML; ``quick`` applies its ``[quick]`` overrides.

    Relative paths (``data``, ``gan.config``) are resolved against the TOML's folder.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("experiment config not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=path) from None
    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise ConfigError("unknown key", path=path, field=unknown[0])
    if quick:
        for section, values in raw.get("quick", {}).items():
            if not isinstance(values, dict):
                raise ConfigError("expected a table", path=path, field=f"quick.{section}")
            raw.setdefault(section, {}).update(values)

    def get(section: str, key: str, default: Any, kind: type | tuple) -> Any:
        table = raw.get(section, {}) if section else raw
        value = table.get(key, default)
        if value is None:
            raise ConfigError("missing key", path=path, field=f"{section}.{key}".strip("."))
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ConfigError(
                f"wrong type {type(value).__name__}", path=path, field=f"{section}.{key}".strip(".")
            )
        return value

    for section, allowed in {
        "cv": {"n_splits", "seeds", "stratify"},
        "grid": {"arms", "train_subjects", "n_added", "classical_base"},
        "gan": {"config", "set", "augment_to", "generator_set"},
        "rebalance": {"classes", "fraction"},
        "augment": {
            "jitter",
            "scaling",
            "magnitude_warp",
            "time_warp",
            "rotation_deg",
            "flip",
            "shift_px",
            "zoom",
        },
    }.items():
        extra = sorted(set(raw.get(section, {})) - allowed)
        if extra:
            raise ConfigError("unknown key", path=path, field=f"{section}.{extra[0]}")

    kind = get("", "kind", None, str)
    if kind not in KINDS:
        raise ConfigError(f"must be one of {', '.join(KINDS)}", path=path, field="kind")
    data = get("", "data", None, str)
    if not data.startswith("/"):
        data = str((path.parent / data).resolve())
    gan_config = get("gan", "config", "watch_cgan.toml", str)
    if not gan_config.startswith("/"):
        gan_config = str((path.parent / gan_config).resolve())
    arms = tuple(get("grid", "arms", None, list))
    allowed_arms = AUG_ARMS if kind == "augmentation" else REB_ARMS
    for arm in arms:
        base, _, gen = arm.partition(":")
        if base not in allowed_arms or (base.endswith("cgan") or base == "synthetic") != bool(gen):
            raise ConfigError(
                f"unknown arm {arm!r} for a {kind} experiment", path=path, field="grid.arms"
            )
        if gen and gen not in WINDOW_GENERATORS + IMAGE_GENERATORS:
            raise ConfigError(f"unknown generator {gen!r}", path=path, field="grid.arms")
    cfg = ExperimentConfig(
        name=get("", "name", path.stem, str),
        kind=kind,
        data=data,
        arms=arms,
        n_splits=get("cv", "n_splits", 5, int),
        seeds=tuple(get("cv", "seeds", [0], list)),
        train_subjects=tuple(get("grid", "train_subjects", [0], list)),
        n_added=tuple(get("grid", "n_added", [0], list)),
        classifier=dict(raw.get("classifier", {})),
        gan_config=gan_config,
        gan_set=tuple(get("gan", "set", [], list)),
        augment=_augment_params(raw.get("augment", {}), path),
        rebalance_classes=tuple(get("rebalance", "classes", [], list)),
        rebalance_fraction=float(get("rebalance", "fraction", 0.1, (int, float))),
        path=str(path),
        stratify=get("cv", "stratify", False, bool),
        classical_base=get("grid", "classical_base", 0, int),
        gan_augment_to=get("gan", "augment_to", 0, int),
        gan_generator_set=_generator_set(get("gan", "generator_set", {}, dict), path),
    )
    for key, values in (
        ("cv.seeds", cfg.seeds),
        ("grid.train_subjects", cfg.train_subjects),
        ("grid.n_added", cfg.n_added),
    ):
        if not values or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise ConfigError("expected a non-empty list of integers", path=path, field=key)
        if key != "cv.seeds" and min(values) < 0:
            raise ConfigError("must be >= 0", path=path, field=key)
    if not cfg.arms:
        raise ConfigError("no arms to run", path=path, field="grid.arms")
    if kind == "rebalancing" and not cfg.rebalance_classes:
        raise ConfigError(
            "a rebalancing experiment needs classes to cut", path=path, field="rebalance.classes"
        )
    if not 0 < cfg.rebalance_fraction <= 1:
        raise ConfigError("must lie in (0, 1]", path=path, field="rebalance.fraction")
    for key, value in (
        ("grid.classical_base", cfg.classical_base),
        ("gan.augment_to", cfg.gan_augment_to),
    ):
        if value < 0:
            raise ConfigError("must be >= 0", path=path, field=key)
    budget = cfg.classifier.get("sample_budget")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
    ):
        raise ConfigError("must be a positive integer", path=path, field="classifier.sample_budget")
    return cfg


def _augment_params(table: dict[str, Any], path: Path) -> dict[str, float]:
    params = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError("expected a number", path=path, field=f"augment.{key}")
        params[key] = float(value)
    return params


def load_saved_config(folder: str | Path) -> ExperimentConfig:
    """The :class:`ExperimentConfig` that :func:`run_experiment` saved in ``folder``.

    ``config.json`` holds its paths (``data``, ``gan_config``, ``path``) relative to the
    results folder, so that a committed results folder names no machine's directories; they
    come back absolute. Absolute paths (older results folders) are kept as they are.

    Raises
    ------
    ConfigError
        A missing or unreadable ``config.json``, or one with unknown keys.
    """
    folder = Path(folder)
    path = folder / CONFIG_INFO
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("no saved experiment config", path=path) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"not readable JSON ({exc})", path=path) from None
    if not isinstance(raw, dict):
        raise ConfigError("expected a JSON object", path=path)
    hints = typing.get_type_hints(ExperimentConfig)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ConfigError("unknown key", path=path, field=unknown[0])
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if typing.get_origin(hints[key]) is tuple and isinstance(value, list):
            value = tuple(value)
        elif key == "gan_generator_set" and isinstance(value, dict):
            value = {gen: tuple(sets) for gen, sets in value.items()}
        elif key in _PATH_FIELDS and value and not Path(value).is_absolute():
            value = str((folder / value).resolve())
        values[key] = value
    try:
        return ExperimentConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"incomplete config ({exc})", path=path) from None


GAN_SNAPSHOT = "gan_config.toml"


def _freeze_gan_config(cfg: ExperimentConfig, out: Path) -> ExperimentConfig:
    """Check the GAN config now and train every GAN of the results folder from one copy.

    The copy (``gan_config.toml`` in the results folder) is written on the first run and
    read by every GAN of this and any resumed run, so an edit to the config file while an
    experiment runs, or between its start and a resume, cannot mix GANs of two configs in
    one table; a resume whose config file has changed since says so in a warning. Only for
    experiments with GAN arms.
    """
    if not any(":" in arm for arm in cfg.arms):
        return cfg
    from imusynth.train.config import config_to_toml, load_config

    current = config_to_toml(load_config(cfg.gan_config))
    snapshot = out / GAN_SNAPSHOT
    if snapshot.exists():
        if snapshot.read_text() != current:
            log.warning(
                "%s has changed since this results folder was started; its GANs keep "
                "training from the copy in %s (use a new --out to train with the edit)",
                cfg.gan_config,
                snapshot,
            )
    else:
        from imusynth.data.store import atomic_path

        with atomic_path(snapshot) as tmp:
            tmp.write_text(current)
    return dataclasses.replace(cfg, gan_config=str(snapshot))


def _portable_config(cfg: ExperimentConfig, folder: Path) -> dict[str, Any]:
    """``cfg`` as a dict with its paths relative to ``folder`` (see :func:`load_saved_config`)."""
    out = dataclasses.asdict(cfg)
    for key in _PATH_FIELDS:
        if out[key]:
            try:
                rel = os.path.relpath(Path(out[key]).resolve(), folder.resolve())
            except ValueError:  # on another drive (Windows): no relative path exists
                continue
            out[key] = Path(rel).as_posix()
    return out


# ------------------------------------------------------------------------------ the grid
@dataclass(frozen=True)
class Unit:
    """The cells that share one training set (and therefore one cached GAN per generator)."""

    fold: int
    seed: int
    train_subjects: int


def _key(row: dict[str, Any]) -> tuple:
    return (
        int(row["fold"]),
        int(row["seed"]),
        int(row["train_subjects"]),
        int(row["n_added"]),
        str(row["arm"]),
    )


def _cells(cfg: ExperimentConfig, unit: Unit) -> list[tuple[int, str]]:
    if cfg.kind == "rebalancing":
        return [(0, arm) for arm in cfg.arms]
    cells = []
    for n in cfg.n_added:
        for arm in cfg.arms:
            if arm == "real" and n != min(cfg.n_added):
                continue  # the real-only arm does not depend on n_added
            if arm != "real" and n == 0:
                continue
            cells.append((n if arm != "real" else 0, arm))
    return cells


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    device: str = "cpu",
    progress: bool = False,
    windows: WindowSet | None = None,
    backend: str = "loky",
) -> Path:
    """Run (or resume) every cell of the grid; returns the path of ``results.csv``.

    ``jobs`` > 1 runs units (fold x seed x training size) in parallel with joblib; results
    are identical to a serial run, since every cell is seeded from its own coordinates.

    ``backend`` is the joblib backend that runs the units: ``"loky"`` (local processes), or a
    cluster's, such as ``"dask"`` (``pip install imusynth[cluster]``; it uses the current
    ``dask.distributed`` Client, or connects to ``DASK_SCHEDULER_ADDRESS``; each worker
    thread of the cluster takes a unit) or ``"ray"`` (registered here with
    ``ray.util.joblib.register_ray``). Units in threads of one process take turns, since
    torch's RNG belongs to the process: start Dask workers with one thread each. Each unit
    that may run beside others pins torch to ``cpu_count() // jobs`` threads of the machine
    it runs on, so on a cluster ``jobs`` should be the number of units (worker processes)
    one machine runs at once. Workers cache GANs in ``out_dir``: on a cluster it should be
    on a file system they share.

    Everything is checked before the results folder is created or a file written: the
    backend, the data, the folds and training sizes, the classes to cut, the classifier's
    and the GANs' settings (with the device's precision). While it runs, the folder is
    locked (:mod:`imusynth.locks`): a second experiment into the same folder is refused.
    On a resume, a partial last row of ``results.csv`` (a kill while it was written) is
    dropped and its cell run again, and a cell found twice counts once (with a warning).

    Raises
    ------
    ConfigError
        An unknown backend, or one whose package is missing, a bad setting or data that
        do not fit the grid, before anything is written.
    LockError
        Another process is writing to ``out_dir``.
    """
    from imusynth.runtime import apply_thread_policy

    apply_thread_policy()  # the CLI's thread policy; units that run beside others pin their own
    _check_backend(backend)
    out = Path(out_dir)
    ws = windows if windows is not None else _load(cfg.data)
    folds = _check_before_writing(cfg, ws, out, device)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "results folder"):
        return _run_locked(cfg, ws, folds, out, jobs, device, progress, backend)


def _check_before_writing(
    cfg: ExperimentConfig, ws: WindowSet, out: Path, device: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every check a cell would make later, made once before the first write; the folds."""
    from imusynth.runtime import resolve_device

    where = cfg.path or None
    resolve_device(device)
    _check_generators(cfg, ws)
    folds = _folds(cfg, ws)
    fewest = min(len(np.unique(ws.groups[train])) for train, _ in folds)
    if max(cfg.train_subjects) > fewest:
        raise ConfigError(
            f"{max(cfg.train_subjects)} training {Wording.of(_modality(ws)).groups} asked, "
            f"a fold has {fewest}",
            path=where,
            field="grid.train_subjects",
        )
    unknown = [c for c in cfg.rebalance_classes if c not in ws.classes]
    if unknown:
        raise ConfigError(f"unknown class {unknown[0]!r}", path=where, field="rebalance.classes")
    try:
        clf = _classifier(cfg, device, seed=0, n_train=1)
    except TypeError as exc:
        raise ConfigError(
            f"not a classifier setting ({exc})", path=where, field="classifier"
        ) from None
    try:
        clf._check_params()
    except ConfigError as exc:
        raise ConfigError(
            exc.message, path=where, field=f"classifier.{exc.field or 'settings'}"
        ) from None
    _augmenter(cfg, ws.X.ndim)
    if cfg.generators():
        from imusynth.train.config import load_config
        from imusynth.train.loop import check_train_setup

        # A resume trains from the results folder's frozen copy, a first run from the file.
        source = out / GAN_SNAPSHOT if (out / GAN_SNAPSHOT).is_file() else cfg.gan_config
        for gen in cfg.generators():
            overrides = [
                *cfg.gan_set,
                *cfg.gan_generator_set.get(gen, ()),
                f"model.generator={gen}",
            ]
            check_train_setup(load_config(source, overrides).train, device)
    return folds


def _run_locked(cfg, ws, folds, out, jobs, device, progress, backend) -> Path:
    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    (out / CONFIG_INFO).write_text(json.dumps(_portable_config(cfg, out), indent=2, default=str))
    cfg = _freeze_gan_config(cfg, out)
    (out / DATA_INFO).write_text(
        json.dumps(
            {
                "classes": list(ws.classes),
                "modality": _modality(ws),
                "shape": list(ws.X.shape),
                "groups": len(np.unique(ws.groups)),
                "source": ws.source,
            },
            indent=2,
        )
    )
    results = out / "results.csv"
    _repair_tail(results)
    done = {_key(r) for r in _read_rows(results)}
    units = [
        Unit(f, s, k) for f in range(cfg.n_splits) for s in cfg.seeds for k in cfg.train_subjects
    ]
    todo = [
        u
        for u in units
        if any((u.fold, u.seed, u.train_subjects, n, a) not in done for n, a in _cells(cfg, u))
    ]
    total = sum(len(_cells(cfg, u)) for u in units)
    bar = tqdm(
        total=total,
        initial=total
        - sum(
            sum((u.fold, u.seed, u.train_subjects, n, a) not in done for n, a in _cells(cfg, u))
            for u in todo
        ),
        desc=cfg.name,
        disable=not progress,
        unit="cell",
    )
    # Units pin torch's threads wherever they may run beside others; a serial run keeps the
    # caller's setting.
    pin = jobs > 1 or backend not in _LOCAL_BACKENDS
    where = out.resolve()  # workers may not share the caller's working directory
    work = [
        delayed(_run_unit)(cfg, ws, folds[u.fold], u, done, where, device, jobs, pin) for u in todo
    ]
    # Dask: send the data to every worker once, not inside every unit's task.
    scatter = {"scatter": [ws]} if backend == "dask" else {}
    with parallel_config(backend=backend, **scatter):
        for rows in Parallel(n_jobs=jobs, return_as="generator_unordered")(work):
            _append_rows(results, rows)
            bar.update(len(rows))
    bar.close()
    return results


# joblib's backends that run the units one after another in the caller when jobs == 1.
_LOCAL_BACKENDS = ("loky", "multiprocessing", "threading", "sequential")
_INSTALL = {
    "dask": "`pip install imusynth[cluster]` (dask[distributed])",
    "ray": "`pip install ray[default]`",
}


def _check_backend(name: str) -> None:
    """Fail with a :class:`ConfigError` unless joblib can run on backend ``name``.

    Dask: joblib registers its backend itself, and uses the current ``distributed`` Client;
    without one, a client is connected to ``DASK_SCHEDULER_ADDRESS`` (dask's
    ``scheduler-address`` setting) when that is set. Ray: its backend is registered here.
    """
    from joblib import parallel_config

    field = "backend"
    if name in _INSTALL:
        try:
            lib = importlib.import_module("distributed" if name == "dask" else "ray.util.joblib")
        except ImportError:
            raise ConfigError(f"backend {name!r} needs {_INSTALL[name]}", field=field) from None
        if name == "ray":
            lib.register_ray()
        else:
            _dask_client(lib)
    try:
        with parallel_config(backend=name):  # the documented way: registered names only
            pass
    except (ImportError, ValueError) as exc:
        if name == "dask":
            raise ConfigError(f"backend 'dask' cannot start ({exc})", field=field) from None
        raise ConfigError(
            f"unknown joblib backend {name!r} (use loky, threading, sequential, dask or ray, "
            "or register it with joblib.register_parallel_backend first)",
            field=field,
        ) from None


def _dask_client(distributed) -> None:
    """Make sure a ``distributed`` Client is current: connect one to the scheduler that
    ``DASK_SCHEDULER_ADDRESS`` names when there is none."""
    import dask

    try:
        client = distributed.Client.current()
    except ValueError:
        address = dask.config.get("scheduler-address", None)
        if not address:
            raise ConfigError(
                "backend 'dask' needs a Dask cluster: start a dask.distributed Client first, "
                "or set DASK_SCHEDULER_ADDRESS=tcp://HOST:8786",
                field="backend",
            ) from None
        try:
            client = distributed.Client(address)  # becomes the current client, for joblib
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler {address} ({exc})", field="backend"
            ) from None
    threads = max(client.nthreads().values(), default=1)
    if threads > 1:
        log.warning(
            "Dask workers with %d threads run one unit at a time each (torch's RNG belongs to "
            "the process); start them with --nthreads 1",
            threads,
        )


# torch's RNG and thread count belong to the process. The classifier seeds the global RNG
# for its fit (dropout takes no generator), so two units in threads of one process (the
# threading backend, a Dask worker with several threads) would draw from each other's
# streams: they take turns instead, and a cluster runs its units in one-thread workers.
_unit_lock = threading.Lock()


@contextlib.contextmanager
def _one_unit_at_a_time(threads: int | None) -> Iterator[None]:
    """Hold this process's unit slot; with ``threads``, pin torch's intra-op threads to that
    number while the unit runs and restore the process's setting afterwards."""
    import torch

    with _unit_lock:
        if not threads:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _modality(ws: WindowSet) -> str:
    """What ``data.json`` records: ``"image"`` for ``(N, 1, H, W)``, else ``"windows"``."""
    return "image" if ws.X.ndim == 4 else "windows"


def _check_generators(cfg: ExperimentConfig, ws: WindowSet) -> None:
    image = ws.X.ndim == 4
    suitable = IMAGE_GENERATORS if image else WINDOW_GENERATORS
    for gen in cfg.generators():
        if gen not in suitable:
            raise ConfigError(
                f"generator {gen!r} does not make {Wording.of(_modality(ws)).items}, which "
                f"the data are (use {' or '.join(suitable)})",
                path=cfg.path or None,
                field="grid.arms",
            )


def _folds(cfg: ExperimentConfig, ws: WindowSet) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-wise folds; with ``cv.stratify`` also balanced by class (Frid-Adar et al.'s
    lesions cluster by class within patients, so plain patient folds can miss a class)."""
    if not cfg.stratify:
        return subject_kfold(ws.groups, cfg.n_splits, seed=0)
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(ws.groups))
    if not 2 <= cfg.n_splits <= n_groups:
        raise ConfigError(
            f"need 2 <= n_splits <= number of {Wording.of(_modality(ws)).groups} "
            f"({n_groups}), got {cfg.n_splits}",
            field="cv.n_splits",
        )
    splitter = StratifiedGroupKFold(cfg.n_splits, shuffle=True, random_state=0)
    return [
        (np.asarray(tr), np.asarray(te))
        for tr, te in splitter.split(np.zeros(len(ws.y)), ws.y, ws.groups)
    ]


def _load(data: str) -> WindowSet:
    return read_windows(data) if data.endswith((".h5", ".hdf5")) else load_windows(data)


def _complete_text(path: Path) -> tuple[str, bool]:
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


def _repair_tail(path: Path) -> None:
    """Drop a partial last row of ``results.csv`` so rows appended later start on a line of
    their own (its cell counts as not done and runs again)."""
    if not path.exists():
        return
    text, partial = _complete_text(path)
    if not partial:
        return
    log.warning("%s: dropping a partial last row (an interrupted write); its cell runs again", path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of ``results.csv``, one per cell (a repeated cell is counted once,
    with a warning)."""
    if not path.exists():
        return []
    text, _ = _complete_text(path)
    rows, seen = [], set()
    n_dup = 0
    for row in csv.DictReader(text.splitlines()):
        if None in row or None in row.values():
            continue  # a row with more or fewer fields than the header
        try:
            key = _key(row)
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


def _append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
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


def _seed(*parts: Any) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _training_set(
    cfg: ExperimentConfig, ws: WindowSet, train_idx: np.ndarray, unit: Unit
) -> WindowSet:
    train = ws.subset(train_idx)
    if unit.train_subjects:
        subjects = np.unique(train.groups)
        if unit.train_subjects > len(subjects):
            raise ConfigError(
                f"{unit.train_subjects} training {Wording.of(_modality(ws)).groups} asked, "
                f"fold has {len(subjects)}",
                field="grid.train_subjects",
            )
        rng = np.random.default_rng(_seed("subjects", unit.fold, unit.seed))
        keep = rng.choice(subjects, size=unit.train_subjects, replace=False)
        train = train.subset(np.isin(train.groups, keep))
    return train


def _cut_minority(cfg: ExperimentConfig, train: WindowSet, unit: Unit) -> WindowSet:
    """Keep ``fraction`` of each rare class's windows, whole recordings first (no leakage of
    overlapping windows between what is kept and what is not is possible: all are training)."""
    rng = np.random.default_rng(_seed("cut", unit.fold, unit.seed))
    keep = np.ones(len(train), dtype=bool)
    for name in cfg.rebalance_classes:
        if name not in train.classes:
            raise ConfigError(f"unknown class {name!r}", field="rebalance.classes")
        idx = np.flatnonzero(train.y == train.classes.index(name))
        n_keep = max(2, round(cfg.rebalance_fraction * len(idx)))
        drop = rng.permutation(idx)[n_keep:]
        keep[drop] = False
    return train.subset(keep)


def _run_unit(cfg, ws, split, unit, done, out, device, jobs, pin) -> list[dict[str, Any]]:
    """The rows of one unit's cells; with ``pin``, torch uses ``cpu_count() // jobs`` threads
    of the machine that runs it (one worker's share of its cores)."""
    with _one_unit_at_a_time(max(1, (os.cpu_count() or 1) // jobs) if pin else None):
        return _unit_rows(cfg, ws, split, unit, done, out, device)


def _unit_rows(cfg, ws, split, unit, done, out, device) -> list[dict[str, Any]]:
    train_idx, test_idx = split
    train = _training_set(cfg, ws, train_idx, unit)
    test = ws.subset(test_idx)
    full_train = train
    if cfg.kind == "rebalancing":
        train = _cut_minority(cfg, train, unit)
    minority = [train.classes.index(c) for c in cfg.rebalance_classes]
    gans: dict[str, Any] = {}
    rows = []
    for n_added, arm in _cells(cfg, unit):
        if (unit.fold, unit.seed, unit.train_subjects, n_added, arm) in done:
            continue
        base, _, gen = arm.partition(":")
        if gen and gen not in gans:
            gans[gen] = _fitted_gan(cfg, train, unit, gen, out, device)
        rng = np.random.default_rng(
            _seed("arm", unit.fold, unit.seed, unit.train_subjects, n_added, arm)
        )
        source = full_train if arm == "reference" else train
        X, y, groups, clf_kwargs = _arm_training_set(cfg, base, source, n_added, gans.get(gen), rng)
        clf = _classifier(
            cfg, device, seed=_seed("clf", unit.fold, unit.seed), n_train=len(X), **clf_kwargs
        )
        clf.fit(X, y, groups=groups if len(np.unique(groups[groups != ""])) > 1 else None)
        n_real = 0 if base == "synthetic" else len(source)
        pred = clf.predict(test.X)
        rows.append(
            {
                "experiment": cfg.name,
                "fold": unit.fold,
                "seed": unit.seed,
                "train_subjects": unit.train_subjects,
                "n_added": n_added,
                "arm": arm,
                "n_train_real": n_real,
                "n_train_added": len(X) - n_real,
                "added_per_class": round((len(X) - n_real) / train.n_classes, 3),
                **_scores(test.y, pred, test.n_classes, minority),
            }
        )
    return rows


def _arm_training_set(cfg, base, train: WindowSet, n_added, gan, rng):
    """The arm's training rows ``(X, y, groups, classifier overrides)``.

    Rows made from a real window keep its subject, so that the classifier's early-stopping
    split (by subject) never validates on copies of a training subject; GAN and SMOTE rows
    have no subject (group ``""``) and always train.
    """
    X, y, g = train.X, train.y, train.groups
    counts = np.bincount(y, minlength=train.n_classes)
    top_up = {c: int(counts.max()) for c in range(len(counts))}

    def with_synthetic(Xa, ya, ga, per_class):
        Xs, ys = _sample(gan, per_class, rng)
        return (
            np.concatenate([Xa, Xs]),
            np.concatenate([ya, ys]),
            np.concatenate([ga, np.full(len(ys), "")]),
            {},
        )

    if base in ("real", "none", "reference"):
        return X, y, g, {}
    if base == "class_weight":
        return X, y, g, {"class_weight": "balanced"}
    if base == "classical":
        return _augmented(cfg, X, y, g, {c: counts[c] + n_added for c in range(len(counts))}, rng)
    if base == "classical_over":
        return _augmented(cfg, X, y, g, top_up, rng)
    if base in ("random_over", "smote"):
        from imblearn.over_sampling import SMOTE, RandomOverSampler

        state = int(rng.integers(2**31))
        if base == "random_over":
            sampler = RandomOverSampler(random_state=state)
        else:
            k = min(5, int(counts[counts > 0].min()) - 1)
            sampler = SMOTE(k_neighbors=k, random_state=state)
        Xf, yr = sampler.fit_resample(X.reshape(len(X), -1), y)  # (N, C*T)
        Xr = Xf.reshape((-1,) + X.shape[1:]).astype(np.float32)  # (N', C, T)
        if base == "random_over":
            gr = g[sampler.sample_indices_]
        else:
            gr = np.concatenate([g, np.full(len(yr) - len(y), "")])
        return Xr, yr, gr, {}
    if base == "cgan":
        if cfg.kind == "rebalancing":
            return with_synthetic(X, y, g, {c: top_up[c] - int(counts[c]) for c in top_up})
        return with_synthetic(X, y, g, n_added)
    if base == "classical+cgan":
        if cfg.classical_base:
            n_classic, n_synthetic = cfg.classical_base, n_added
        else:
            n_classic, n_synthetic = n_added // 2, n_added - n_added // 2
        Xa, ya, ga, _ = _augmented(
            cfg, X, y, g, {c: counts[c] + n_classic for c in range(len(counts))}, rng
        )
        return with_synthetic(Xa, ya, ga, n_synthetic)
    if base == "synthetic":
        Xs, ys = _sample(gan, n_added, rng)
        return Xs, ys, np.full(len(ys), ""), {}
    raise ConfigError(f"unknown arm {base!r}", field="grid.arms")


def classical_augmenter(params: dict[str, float]) -> Callable:
    """The classical time-series augmentation used by the experiments (Um et al. 2017)."""
    from imusynth.augment import Compose, Jitter, MagnitudeWarp, Rotation, Scaling, TimeWarp

    steps = []
    if params.get("rotation_deg", 15.0) > 0:
        steps.append(Rotation(max_angle_deg=params.get("rotation_deg", 15.0)))
    if params.get("time_warp", 0.2) > 0:
        steps.append(TimeWarp(sigma=params.get("time_warp", 0.2)))
    if params.get("magnitude_warp", 0.1) > 0:
        steps.append(MagnitudeWarp(sigma=params.get("magnitude_warp", 0.1)))
    if params.get("scaling", 0.1) > 0:
        steps.append(Scaling(sigma=params.get("scaling", 0.1)))
    if params.get("jitter", 0.02) > 0:
        steps.append(Jitter(sigma=params.get("jitter", 0.02)))
    return Compose(steps)


def image_augmenter(params: dict[str, float]) -> Callable:
    """The classic image augmentation of Frid-Adar et al. 2018: flips, rotation, translation
    and scaling, each new ROI drawing all four (``flip`` probability per axis, ``rotation_deg``
    largest angle, ``shift_px`` largest shift, ``zoom``: scale factors in
    ``[1 / (1 + zoom), 1 + zoom]``)."""
    from imusynth.augment import Compose
    from imusynth.augment.images import Flip, ImageRotation, ImageScaling, Translation

    steps = []
    if params.get("flip", 0.5) > 0:
        steps.append(Flip(params.get("flip", 0.5), params.get("flip", 0.5)))
    if params.get("rotation_deg", 180.0) > 0:
        steps.append(ImageRotation(params.get("rotation_deg", 180.0)))
    if params.get("shift_px", 4) > 0:
        steps.append(Translation(int(params.get("shift_px", 4))))
    if params.get("zoom", 0.1) > 0:
        zoom = 1.0 + params.get("zoom", 0.1)
        steps.append(ImageScaling(1.0 / zoom, zoom))
    return Compose(steps)


def _augmenter(cfg: ExperimentConfig, ndim: int) -> Callable:
    return image_augmenter(cfg.augment) if ndim == 4 else classical_augmenter(cfg.augment)


def _augmented(cfg, X, y, groups, targets, rng):
    from imusynth.augment import augment_to_counts

    augmenter = _augmenter(cfg, X.ndim)
    Xa, ya, src = augment_to_counts(X, y, targets, augmenter, rng, return_indices=True)
    return Xa, ya, groups[src], {}


def _sample(gan, per_class: int | dict[int, int], rng):
    """Synthetic windows; ``per_class`` is a count for every class or one per class code."""
    if isinstance(per_class, dict):
        per_class = {str(gan.classes_[c]): int(n) for c, n in per_class.items()}
    Xs, ys = gan.sample(n_per_class=per_class, seed=int(rng.integers(2**31)))
    return np.asarray(Xs, np.float32), np.asarray(ys, np.int64)


def _classifier(cfg: ExperimentConfig, device: str, seed: int, n_train: int, **overrides):
    """The arm's classifier. ``classifier.sample_budget`` caps the samples seen per fit:
    ``epochs`` shrinks to ``ceil(budget / n_train)`` for large (augmented) training sets, so
    every arm gets about the same number of gradient steps."""
    from imusynth.train.classifiers import CNNClassifier

    params = {**cfg.classifier, **overrides}
    budget = params.pop("sample_budget", None)
    if budget:
        epochs = params.get("epochs", CNNClassifier().epochs)
        params["epochs"] = int(max(1, min(epochs, math.ceil(budget / max(n_train, 1)))))
    return CNNClassifier(**params, device=device, random_state=seed)


def _fitted_gan(
    cfg: ExperimentConfig, train: WindowSet, unit: Unit, generator: str, out: Path, device: str
):
    """Train the unit's GAN on its training windows, or load it from the cache.

    With ``gan.augment_to``, the GAN trains on the training windows classically augmented
    to that many per class (never on test subjects: they are not in ``train``)."""
    from imusynth.gan import ConditionalGAN
    from imusynth.gan2d import ImageGAN
    from imusynth.train.config import load_config

    estimator = ImageGAN if generator in IMAGE_GENERATORS else ConditionalGAN
    run_dir = out / "gans" / f"fold{unit.fold}-seed{unit.seed}-k{unit.train_subjects}-{generator}"
    if (run_dir / "DONE").exists():
        return estimator.load(run_dir, device=device)
    overrides = [
        *cfg.gan_set,
        *cfg.gan_generator_set.get(generator, ()),
        f"model.generator={generator}",
        f"train.seed={_seed('gan', unit.fold, unit.seed, unit.train_subjects) % 2**31}",
    ]
    gan = estimator(config=load_config(cfg.gan_config, overrides), device=device)
    X, y, src = train.X, train.y, np.arange(len(train))
    if cfg.gan_augment_to:
        from imusynth.augment import augment_to_counts

        counts = np.bincount(y, minlength=train.n_classes)
        targets = {c: max(int(n), cfg.gan_augment_to) for c, n in enumerate(counts)}
        rng = np.random.default_rng(_seed("gan-augment", unit.fold, unit.seed, unit.train_subjects))
        augmenter = _augmenter(cfg, X.ndim)
        X, y, src = augment_to_counts(X, y, targets, augmenter, rng, return_indices=True)
    if estimator is ImageGAN:
        gan.fit(X, y, groups=train.groups[src], classes=train.classes)
    else:
        gan.fit(
            X,
            y,
            groups=train.groups[src],
            side=None if train.side is None else train.side[src],
            classes=train.classes,
            channels=train.channels,
            units=train.units,
            sampling_rate_hz=train.sampling_rate_hz,
        )
    gan.save(run_dir)
    (run_dir / "DONE").write_text("ok\n")
    return gan


def _scores(y_true, y_pred, n_classes, minority) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        recall_score,
    )

    labels = np.arange(n_classes)
    out = {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
    }
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out["minority_recall"] = float(np.mean(recalls[minority])) if minority else float("nan")
    for c, r in enumerate(recalls):
        out[f"recall_{c}"] = float(r)
    out = {k: float(v) for k, v in out.items()}
    cm = confusion_matrix(y_true, y_pred, labels=labels)  # rows: true, columns: predicted
    for i in range(n_classes):
        for j in range(n_classes):
            out[f"cm_{i}_{j}"] = int(cm[i, j])
    return out


# ------------------------------------------------------------------------------ reporting
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


def _fmt_added(value: float) -> str:
    """Windows added per class for a table: whole numbers as such, means to one decimal."""
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def summarise(
    results_csv: str | Path,
    out_dir: str | Path,
    classes: tuple[str, ...] = (),
    *,
    modality: str | None = None,
) -> Path:
    """Write ``summary.md`` (mean ± sd over folds and seeds) and the figures beside it.

    A partial last row of ``results_csv`` is left out, and a cell found more than once
    counts once (with a warning), so no cell weighs twice in a mean or a count.

    The summary ends with per-class sensitivity and specificity tables (see
    :func:`sensitivity_specificity_tables`); ``classes`` names the class codes and
    ``modality`` (``"image"`` or ``"windows"``) picks the wording, patients and images or
    subjects and windows (default for both: what ``run_experiment`` saved in ``data.json``
    beside the results).
    """
    import io

    import pandas as pd

    text = _complete_text(Path(results_csv))[0] if Path(results_csv).is_file() else ""
    key_columns = ["fold", "seed", "train_subjects", "n_added", "arm"]
    if text.count("\n") < 2:
        raise DataError("no complete result rows to summarise", path=results_csv)
    df = pd.read_csv(io.StringIO(text))
    missing = [c for c in key_columns if c not in df]
    if missing:
        raise DataError("not an experiment's results table", path=results_csv, field=missing[0])
    df = df.dropna(subset=key_columns)
    n_dup = int(df.duplicated(subset=key_columns).sum())
    if n_dup:
        log.warning("%s: %d repeated row(s) of a cell ignored (first one kept)", results_csv, n_dup)
        df = df.drop_duplicates(subset=key_columns, keep="first")
    out = Path(out_dir)
    info = _saved_info(Path(results_csv).parent)
    if not classes:
        classes = tuple(info.get("classes", ()))
    words = Wording.of(modality or info.get("modality"))
    groups = words.groups
    keys = ["train_subjects", "n_added", "arm"]
    metrics = [m for m in METRICS if m in df and df[m].notna().any()]
    agg = df.groupby(keys)[metrics].agg(["mean", "std", "count"])
    lines = [
        f"# {df['experiment'].iloc[0]}",
        "",
        f"{df[['fold', 'seed']].drop_duplicates().shape[0]} fold x seed pairs; "
        f"mean ± sd over folds and seeds ({groups[:-1]}-wise CV).",
        "",
    ]
    header = f"| {words.size_column} | added / class | arm | " + " | ".join(metrics) + " | n |"
    lines += [header, "|" + "---|" * (len(metrics) + 4)]
    totals = df.groupby(keys)["added_per_class"].mean() if "added_per_class" in df else None
    for (k, n, arm), row in agg.iterrows():
        cells = [f"{row[(m, 'mean')]:.3f} ± {row[(m, 'std')]:.3f}" for m in metrics]
        added = f"{n}"
        if totals is not None and abs(totals[(k, n, arm)] - n) > 0.5 and arm != "real":
            added += f" ({_fmt_added(totals[(k, n, arm)])} on average)"
        lines.append(
            f"| {k or 'all'} | {added} | {arm} | "
            + " | ".join(cells)
            + f" | {int(row[(metrics[0], 'count')])} |"
        )
    metric = metrics[0] if "macro_f1" not in metrics else "macro_f1"
    lines += ["", _paired_table(df, metric, words)]
    # The comparison the studies are about: each GAN arm against the strongest classical
    # remedy of its kind, paired on the same fold, seed, size (and number added).
    rival = "classical" if "classical" in set(df["arm"]) else "smote"
    gan_arms = [a for a in dict.fromkeys(df["arm"]) if "cgan:" in a]
    if rival in set(df["arm"]) and gan_arms:
        lines += ["", _paired_table(df, metric, words, base=rival, arms=gan_arms)]
    tables = sensitivity_specificity_tables(df, classes, groups, words.added)
    if tables:
        lines += ["", tables]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    from imusynth.plots.experiments import plot_experiment

    plot_experiment(df, out, groups=groups, added=words.added)
    return path


def _saved_info(folder: Path) -> dict[str, Any]:
    """What ``run_experiment`` saved about the data (``data.json``), or ``{}``."""
    try:
        info = json.loads((folder / DATA_INFO).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def confusion_matrix_of(df, n_classes: int) -> np.ndarray:
    """The test confusion matrix summed over the rows of ``df`` (rows true, columns
    predicted); each test sample counts once per seed."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for i in range(n_classes):
        for j in range(n_classes):
            cm[i, j] = int(df[f"cm_{i}_{j}"].sum())
    return cm


def sensitivity_specificity(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class sensitivity (recall of the true class) and specificity (share of the other
    classes' samples not called this class) of a confusion matrix (rows true).

    Examples
    --------
    >>> sens, spec = sensitivity_specificity(np.array([[8, 2], [1, 9]]))
    >>> sens.round(2).tolist(), spec.round(2).tolist()
    ([0.8, 0.9], [0.9, 0.8])
    """
    cm = np.asarray(cm, dtype=np.float64)
    total, tp = cm.sum(), np.diag(cm)
    true, called = cm.sum(1), cm.sum(0)
    negatives = total - true
    sens = np.divide(tp, true, out=np.full(len(cm), np.nan), where=true > 0)
    spec = np.divide(
        negatives - (called - tp), negatives, out=np.full(len(cm), np.nan), where=negatives > 0
    )
    return sens, spec


def sensitivity_specificity_tables(
    df, classes: tuple[str, ...] = (), groups: str = "subjects", added: str = "samples"
) -> str:
    """Markdown confusion matrices with per-class sensitivity and specificity.

    One table per arm at its best number of added samples (highest mean accuracy), for the
    largest training size, in the layout of Frid-Adar et al. 2018, Tables I, II and V: rows
    are the classifier's calls, columns the ground truth, the last column each class's
    specificity and the last row each class's sensitivity; the matrix is summed over the
    test folds (and seeds). Empty when the results hold no confusion matrices.
    """
    n_classes = sum(1 for c in df.columns if str(c).startswith("recall_"))
    if n_classes == 0 or f"cm_{n_classes - 1}_{n_classes - 1}" not in df:
        return ""
    df = df[df[f"cm_{n_classes - 1}_{n_classes - 1}"].notna()]
    if df.empty:
        return ""
    names = list(classes) if len(classes) == n_classes else [str(c) for c in range(n_classes)]
    sizes = sorted(df["train_subjects"].unique())
    size = 0 if 0 in sizes else sizes[-1]
    df = df[df["train_subjects"] == size]
    pairs = df[["fold", "seed"]].drop_duplicates().shape[0]
    lines = [
        "Per-class sensitivity and specificity (layout of Frid-Adar et al. 2018, Tables I, II "
        f"and V): each arm at its best number of added {added}, {'all' if size == 0 else size} "
        f"training {groups}, confusion matrix summed over {pairs} test fold x seed pairs (the "
        "best count is picked on the test folds, as the paper picked its best groups).",
        "",
        "| arm | added / class | accuracy | mean sensitivity | mean specificity |",
        "|---|---|---|---|---|",
    ]
    details = []
    for arm in dict.fromkeys(df["arm"]):
        rows = df[df["arm"] == arm]
        acc = rows.groupby("n_added")["accuracy"].mean()
        best = acc.idxmax()
        chosen = rows[rows["n_added"] == best]
        cm = confusion_matrix_of(chosen, n_classes)
        sens, spec = sensitivity_specificity(cm)
        added = chosen["added_per_class"].mean() if "added_per_class" in chosen else best
        lines.append(
            f"| {arm} | {_fmt_added(added)} | {chosen['accuracy'].mean():.3f} ± "
            f"{chosen['accuracy'].std():.3f} | {np.nanmean(sens):.1%} | {np.nanmean(spec):.1%} |"
        )
        details += [
            "",
            f"**{arm}**, {_fmt_added(added)} added per class "
            f"(accuracy {np.trace(cm) / max(cm.sum(), 1):.1%} of {cm.sum()} test calls):",
            "",
            "| classification \\ truth | " + " | ".join(names) + " | specificity |",
            "|---|" + "---|" * (n_classes + 1),
        ]
        for j, name in enumerate(names):  # row j: samples the classifier called class j
            counts = " | ".join(str(int(cm[i, j])) for i in range(n_classes))
            details.append(f"| {name} | {counts} | {spec[j]:.1%} |")
        details.append("| sensitivity | " + " | ".join(f"{v:.1%}" for v in sens) + " | |")
    return "\n".join(lines + details)


def _paired_table(
    df,
    metric: str,
    words: Wording | None = None,
    *,
    base: str | None = None,
    arms: Sequence[str] | None = None,
) -> str:
    """Paired differences against ``base`` (default ``real`` or ``none``) on the same fold,
    seed and size; against an arm that adds windows itself, also the same number added."""
    words = words or Wording.of(None)
    base = base or ("real" if "real" in set(df["arm"]) else "none")
    if base not in set(df["arm"]):
        return ""
    keys = ["fold", "seed", "train_subjects"]
    if base not in ("real", "none", "reference"):
        keys.append("n_added")  # e.g. classical at the same number of added windows
    ref = df[df["arm"] == base].set_index(keys)[metric]
    rows = df[df["arm"] != base]
    if arms is not None:
        rows = rows[rows["arm"].isin(arms)]
    lines = [
        f"Paired difference in {metric} against `{base}` (same fold, seed, size"
        + (" and number added" if "n_added" in keys else "")
        + "):",
        "",
        f"| {words.size_column} | added / class | arm | mean diff | sd | wins/n |",
        "|---|---|---|---|---|---|",
    ]
    for (k, n, arm), g in rows.groupby(["train_subjects", "n_added", "arm"]):
        d = (g.set_index(keys)[metric] - ref).dropna()
        if d.empty:
            continue
        lines.append(
            f"| {k or 'all'} | {n} | {arm} | {d.mean():+.3f} | {d.std():.3f} | "
            f"{int((d > 0).sum())}/{len(d)} |"
        )
    return "\n".join(lines)


def iter_rows(path: str | Path) -> Iterator[dict[str, str]]:
    yield from _read_rows(Path(path))

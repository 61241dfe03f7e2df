"""Experiment configs: :class:`ExperimentConfig`, read from ``experiments/*.toml``, and
the copies of it (and of its GAN config) that a results folder keeps.

An experiment config is a dataclass on the project's one config mechanism
(:mod:`imusynth.config`): its sections are the TOML file's tables, and
:func:`load_experiment` reads it with :func:`~imusynth.config.from_dict`, which checks every
key and type; what a type cannot say (an arm the study knows, a value in range) is checked
after.

``config.json`` records the experiment's config with its paths relative to the results
folder (:func:`load_saved_config` reads it back); ``gan_config.toml`` is the one GAN config
every GAN of a results folder trains from (:func:`freeze_gan_config`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from imusynth.augment.recipes import AUGMENT_KEYS
from imusynth.config import BUNDLED_DIR, check_choice, from_dict, path_beside, read_toml
from imusynth.errors import ConfigError
from imusynth.experiments.arms import arms_of, find_arm
from imusynth.train.config import IMAGE_GENERATORS

__all__ = [
    "CVSection",
    "ExperimentConfig",
    "GanSection",
    "GridSection",
    "RebalanceSection",
    "load_experiment",
    "load_saved_config",
]

log = logging.getLogger(__name__)

KINDS = ("augmentation", "rebalancing")
AUG_ARMS = arms_of("augmentation")
REB_ARMS = arms_of("rebalancing")
WINDOW_GENERATORS = ("conv1d", "kinematic")
DATA_INFO = "data.json"
CONFIG_INFO = "config.json"
GAN_SNAPSHOT = "gan_config.toml"
# The configs shipped with imusynth: where a ``gan.config`` or ``data`` that is not beside
# the experiment file is looked for next (an alias of imusynth.config.BUNDLED_DIR).
BUNDLED_CONFIGS = BUNDLED_DIR


@dataclass(frozen=True)
class CVSection:
    """``[cv]``: subject-wise ``n_splits``-fold cross-validation, repeated for each of
    ``seeds``; ``stratify`` also balances the classes over the folds (scikit-learn's
    ``StratifiedGroupKFold``)."""

    n_splits: int = 5
    seeds: tuple[int, ...] = (0,)
    stratify: bool = False


@dataclass(frozen=True)
class GridSection:
    """``[grid]``: the ``arms`` (:mod:`imusynth.experiments.arms`), training sizes
    (``train_subjects``, 0: all training subjects of the fold; a smaller number draws that
    many, every class kept), windows added per class (``n_added``, augmentation study
    only) and ``classical_base`` (classic windows under the synthetic ones of
    ``classical+cgan`` arms)."""

    arms: tuple[str, ...] = ()  # required
    train_subjects: tuple[int, ...] = (0,)
    n_added: tuple[int, ...] = (0,)
    classical_base: int = 0


@dataclass(frozen=True)
class GanSection:
    """``[gan]``: the GAN ``config`` every generator trains from (relative to the experiment
    file, else one of imusynth's bundled configs), ``set`` overrides for all generators and
    ``generator_set`` overrides for one (``{ acgan = ["train.steps=1200"] }``);
    ``augment_to`` trains the GANs on the fold's windows classically augmented to that many
    per class (see :mod:`imusynth.experiments.run`)."""

    config: str = "watch_cgan.toml"
    set: tuple[str, ...] = ()
    augment_to: int = 0
    generator_set: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RebalanceSection:
    """``[rebalance]``: the ``classes`` cut to ``fraction`` of their training windows in
    every fold (rebalancing study)."""

    classes: tuple[str, ...] = ()
    fraction: float = 0.1


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment, read from ``experiments/*.toml`` by :func:`load_experiment`.

    Its sections are the TOML file's tables (``[cv]``, ``[grid]``, ``[gan]``,
    ``[rebalance]``); ``[classifier]`` holds the settings of
    :class:`~imusynth.train.classifiers.CNNClassifier` (checked when the experiment starts)
    and ``[augment]`` the parameters of the classical augmentation recipes
    (:data:`~imusynth.augment.recipes.AUGMENT_KEYS`). ``path`` is the file it was read from
    (set by the loader, not a TOML key, as is ``device``, which nothing reads).

    The flat names of earlier versions still read the same values: ``cfg.n_splits`` is
    ``cfg.cv.n_splits``, ``cfg.arms`` is ``cfg.grid.arms``, ``cfg.gan_config`` is
    ``cfg.gan.config`` (every one: :data:`SAVED_KEYS`).

    Examples
    --------
    >>> cfg = ExperimentConfig(kind="augmentation", grid=GridSection(arms=("real",)))
    >>> cfg.cv.n_splits, cfg.n_splits, cfg.gan.config
    (5, 5, 'watch_cgan.toml')
    """

    name: str = ""  # default: the TOML file's stem
    kind: str = ""  # required: augmentation | rebalancing
    data: str = ""  # required: a dataset spec or an HDF5 windows file
    cv: CVSection = field(default_factory=CVSection)
    grid: GridSection = field(default_factory=GridSection)
    classifier: dict[str, Any] = field(default_factory=dict)
    gan: GanSection = field(default_factory=GanSection)
    rebalance: RebalanceSection = field(default_factory=RebalanceSection)
    augment: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    path: str = ""

    def generators(self) -> tuple[str, ...]:
        """The generators of the ``<arm>:<generator>`` arms, sorted."""
        return tuple(sorted({a.split(":", 1)[1] for a in self.grid.arms if ":" in a}))

    def __getattr__(self, name: str) -> Any:
        # Only called for names the instance lacks: the flat names of earlier versions.
        dotted = SAVED_KEYS.get(name)
        if dotted is None or dotted == name:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return attrgetter(dotted)(self)


# The flat keys of ``config.json`` (and the attribute names of earlier versions), in the
# order it lists them, each with the dotted key of the config that holds its value.
SAVED_KEYS = {
    "name": "name",
    "kind": "kind",
    "data": "data",
    "arms": "grid.arms",
    "n_splits": "cv.n_splits",
    "seeds": "cv.seeds",
    "train_subjects": "grid.train_subjects",
    "n_added": "grid.n_added",
    "classifier": "classifier",
    "gan_config": "gan.config",
    "gan_set": "gan.set",
    "augment": "augment",
    "rebalance_classes": "rebalance.classes",
    "rebalance_fraction": "rebalance.fraction",
    "device": "device",
    "path": "path",
    "stratify": "cv.stratify",
    "classical_base": "grid.classical_base",
    "gan_augment_to": "gan.augment_to",
    "gan_generator_set": "gan.generator_set",
}
# config.json's keys holding file paths: saved relative to the results folder.
_PATH_KEYS = ("data", "gan_config", "path")
# Fields the loader sets, not keys of the TOML file.
_NOT_IN_FILE = ("device", "path")


def load_experiment(path: str | Path, *, quick: bool = False) -> ExperimentConfig:
    """Read an experiment TOML; ``quick`` applies its ``[quick]`` overrides.

    Every key and type is checked by :func:`imusynth.config.from_dict` against
    :class:`ExperimentConfig`. ``data`` is relative to the TOML's folder; ``gan.config``
    too, or else names one of the GAN configs bundled with imusynth (``watch_cgan.toml``).

    Raises
    ------
    ConfigError
        A missing or unreadable file, an unknown or missing key, a value of the wrong type
        or out of range, an arm or generator the study does not know, a GAN config found
        in neither place; naming the file and the dotted key.

    Examples
    --------
    >>> cfg = load_experiment("experiments/watch_rebalancing.toml", quick=True)  # doctest: +SKIP
    >>> cfg.cv.n_splits, cfg.grid.arms[:2]  # doctest: +SKIP
    (2, ('reference', 'none'))
    """
    path = Path(path)
    raw = read_toml(path, what="experiment config")
    try:
        cfg = _from_toml(raw, path, quick)
        _check(cfg)
    except ConfigError as exc:
        if exc.path is None:
            raise ConfigError(exc.message, path=path, field=exc.field) from None
        raise
    return cfg


def _from_toml(raw: dict[str, Any], path: Path, quick: bool) -> ExperimentConfig:
    """The config of a TOML file's tables, with its ``[quick]`` tables merged in if asked
    and its paths resolved."""
    overrides = raw.pop("quick", {})
    if not isinstance(overrides, dict):
        raise ConfigError("expected a table", field="quick")
    if quick:
        for section, values in overrides.items():
            if not isinstance(values, dict):
                raise ConfigError("expected a table", field=f"quick.{section}")
            table = raw.setdefault(section, {})
            if isinstance(table, dict):
                table.update(values)
    valid = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in _NOT_IN_FILE]
    unknown = sorted(set(raw) - set(valid))
    if unknown:  # from_dict would take device and path, which the loader sets
        raise ConfigError(f"unknown key (valid keys: {', '.join(valid)}, quick)", field=unknown[0])
    for dotted in ("kind", "data", "grid.arms"):
        section, _, key = dotted.rpartition(".")
        table = raw.get(section, {}) if section else raw
        if isinstance(table, dict) and key not in table:
            raise ConfigError("missing key", field=dotted)
    cfg = from_dict(ExperimentConfig, raw)
    gan_config = _gan_config_path(cfg.gan.config, path, needed=bool(cfg.generators()))
    return dataclasses.replace(
        cfg,
        name=cfg.name if "name" in raw else path.stem,
        data=str(path_beside(cfg.data, path.parent).resolve()),
        gan=dataclasses.replace(cfg.gan, config=gan_config),
        path=str(path),
    )


def _gan_config_path(name: str, experiment: Path, *, needed: bool) -> str:
    """``gan.config`` as an absolute path: beside the experiment file, else bundled with
    imusynth (:func:`~imusynth.config.path_beside`). Not found: an error if the experiment
    has GAN arms (``needed``), else the path beside the experiment file (nothing reads it)."""
    place = path_beside(name, experiment.parent).resolve()
    if needed and not place.is_file():
        looked = [str(place)] + ([] if Path(name).is_absolute() else [str(BUNDLED_DIR / name)])
        raise ConfigError(
            f"GAN config not found (looked for {' and '.join(dict.fromkeys(looked))})",
            field="gan.config",
        )
    return str(place)


def _check(cfg: ExperimentConfig) -> None:
    """The values :func:`~imusynth.config.from_dict` cannot check by type alone."""
    check_choice(cfg.kind, KINDS, "kind")
    grid = cfg.grid
    if not grid.arms:
        raise ConfigError("no arms to run", field="grid.arms")
    generators = WINDOW_GENERATORS + IMAGE_GENERATORS
    for arm in grid.arms:
        base, _, gen = arm.partition(":")
        spec = find_arm(base)
        if spec is None or cfg.kind not in spec.kinds or spec.generator != bool(gen):
            raise ConfigError(f"unknown arm {arm!r} for a {cfg.kind} experiment", field="grid.arms")
        if gen and gen not in generators:
            raise ConfigError(f"unknown generator {gen!r}", field="grid.arms")
        if base == "cgan_filtered" and gen in IMAGE_GENERATORS:
            raise ConfigError(
                f"{arm!r}: the filter judges windows (features of time series), not images",
                field="grid.arms",
            )
    for key, values in (
        ("cv.seeds", cfg.cv.seeds),
        ("grid.train_subjects", grid.train_subjects),
        ("grid.n_added", grid.n_added),
    ):
        if not values:
            raise ConfigError("expected a non-empty list of integers", field=key)
        if key != "cv.seeds" and min(values) < 0:
            raise ConfigError("must be >= 0", field=key)
    for key, value in (
        ("grid.classical_base", grid.classical_base),
        ("gan.augment_to", cfg.gan.augment_to),
    ):
        if value < 0:
            raise ConfigError("must be >= 0", field=key)
    for gen in cfg.gan.generator_set:
        if gen not in generators:
            raise ConfigError(f"unknown generator {gen!r}", field="gan.generator_set")
    if cfg.kind == "rebalancing" and not cfg.rebalance.classes:
        raise ConfigError(
            "a rebalancing experiment needs classes to cut", field="rebalance.classes"
        )
    if not 0 < cfg.rebalance.fraction <= 1:
        raise ConfigError("must lie in (0, 1]", field="rebalance.fraction")
    unknown = sorted(set(cfg.augment) - set(AUGMENT_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key (valid keys: {', '.join(AUGMENT_KEYS)})", field=f"augment.{unknown[0]}"
        )
    budget = cfg.classifier.get("sample_budget")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
    ):
        raise ConfigError("must be a positive integer", field="classifier.sample_budget")
    seeds = cfg.classifier.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError("must be a positive integer", field="classifier.seeds")


def load_saved_config(folder: str | Path) -> ExperimentConfig:
    """The :class:`ExperimentConfig` that :func:`run_experiment` saved in ``folder``.

    ``config.json`` holds the config under its flat keys (:data:`SAVED_KEYS`), with its
    paths (``data``, ``gan_config``, ``path``) relative to the results folder, or a bundled
    config by its bare name, so that a committed results folder names no machine's
    directories; they come back absolute.
    Absolute paths (older results folders) are kept as they are; keys that older versions
    did not write take their defaults.

    Raises
    ------
    ConfigError
        A missing or unreadable ``config.json``, or one with unknown keys or values of the
        wrong type.
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
    nested: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in SAVED_KEYS:
            raise ConfigError("unknown key", path=path, field=key)
        if key in _PATH_KEYS and isinstance(value, str) and value:
            if len(Path(value).parts) == 1 and (BUNDLED_DIR / value).is_file():
                value = str(BUNDLED_DIR / value)  # a bundled config by its name
            elif not Path(value).is_absolute():
                value = str((folder / value).resolve())
        section, _, name = SAVED_KEYS[key].rpartition(".")
        (nested.setdefault(section, {}) if section else nested)[name] = value
    try:
        return from_dict(ExperimentConfig, nested)
    except ConfigError as exc:
        flat = {dotted: key for key, dotted in SAVED_KEYS.items()}
        field_ = flat.get(exc.field or "", exc.field)
        raise ConfigError(exc.message, path=path, field=field_) from None


def freeze_gan_config(cfg: ExperimentConfig, out: Path) -> ExperimentConfig:
    """Check the GAN config now and train every GAN of the results folder from one copy.

    The copy (``gan_config.toml`` in the results folder) is written on the first run and
    read by every GAN of this and any resumed run, so an edit to the config file while an
    experiment runs, or between its start and a resume, cannot mix GANs of two configs in
    one table; a resume whose config file has changed since says so in a warning. Only for
    experiments with GAN arms.
    """
    if not cfg.generators():
        return cfg
    from imusynth.train.config import config_to_toml, load_config

    gan_cfg = load_config(cfg.gan.config)
    spec = Path(gan_cfg.data.spec)
    if gan_cfg.data.spec and _bundled_name(gan_cfg.data.spec):
        # A bundled spec by its name: the copy reads the same from any checkout or install.
        gan_cfg.data.spec = spec.name
    elif gan_cfg.data.spec and not spec.is_absolute() and spec.exists():
        # Relative to the copy's folder, where the copy will be read from.
        gan_cfg.data.spec = _relative_to(gan_cfg.data.spec, out)
    current = config_to_toml(gan_cfg)
    snapshot = out / GAN_SNAPSHOT
    if snapshot.exists():
        if snapshot.read_text() != current:
            log.warning(
                "%s has changed since this results folder was started; its GANs keep "
                "training from the copy in %s (use a new --out to train with the edit)",
                cfg.gan.config,
                snapshot,
            )
    else:
        from imusynth.data.store import atomic_path

        with atomic_path(snapshot) as tmp:
            tmp.write_text(current)
    return dataclasses.replace(cfg, gan=dataclasses.replace(cfg.gan, config=str(snapshot)))


def _relative_to(path: str, folder: Path) -> str:
    """``path`` (relative to the working directory, or absolute) as a POSIX path relative
    to ``folder``; unchanged where none exists (another drive on Windows)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    except ValueError:
        return path


def portable_config(cfg: ExperimentConfig, folder: Path) -> dict[str, Any]:
    """``cfg`` as ``config.json`` holds it: its flat keys (:data:`SAVED_KEYS`), paths
    relative to ``folder`` (see :func:`load_saved_config`)."""
    out = {key: copy.deepcopy(attrgetter(dotted)(cfg)) for key, dotted in SAVED_KEYS.items()}
    for key in _PATH_KEYS:
        if out[key]:
            out[key] = _bundled_name(out[key]) or _relative_to(out[key], folder)
    return out


def _bundled_name(path: str) -> str:
    """The bare name of a bundled config that ``path`` is (it reads the same from any
    checkout or install), else ``""``."""
    p = Path(path)
    return p.name if p.exists() and p.resolve() == BUNDLED_DIR / p.name else ""

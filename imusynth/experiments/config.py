"""Experiment configs: :class:`ExperimentConfig`, read from ``experiments/*.toml``, and
the copies of it (and of its GAN config) that a results folder keeps.

``config.json`` records the experiment's config with its paths relative to the results
folder (:func:`load_saved_config` reads it back); ``gan_config.toml`` is the one GAN config
every GAN of a results folder trains from (:func:`freeze_gan_config`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imusynth.augment.recipes import AUGMENT_KEYS
from imusynth.config import read_toml
from imusynth.errors import ConfigError
from imusynth.experiments.arms import arms_of, find_arm
from imusynth.train.config import IMAGE_GENERATORS

__all__ = ["ExperimentConfig", "load_experiment", "load_saved_config"]

log = logging.getLogger(__name__)

KINDS = ("augmentation", "rebalancing")
AUG_ARMS = arms_of("augmentation")
REB_ARMS = arms_of("rebalancing")
WINDOW_GENERATORS = ("conv1d", "kinematic")
DATA_INFO = "data.json"
CONFIG_INFO = "config.json"
GAN_SNAPSHOT = "gan_config.toml"
# ExperimentConfig fields holding file paths: saved relative to the results folder.
_PATH_FIELDS = ("data", "gan_config", "path")


def _toml(key: str) -> dict[str, str]:
    """Field metadata: the field is read from this dotted TOML key (``section.key``)."""
    return {"toml": key}


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment, read from ``experiments/*.toml`` by :func:`load_experiment`.

    Each field names its TOML key (``section.key``) in its metadata; its type hint gives
    the type the TOML value must have (a tuple is a TOML list) and its default the value of
    an absent key. ``train_subjects`` of 0 means all training subjects of the fold;
    ``n_added`` counts added windows per class (augmentation study only). ``stratify``
    makes the subject-wise folds also balance the classes (scikit-learn's
    ``StratifiedGroupKFold``); ``classical_base`` and ``gan_augment_to`` are described in
    :mod:`imusynth.experiments.arms` and :mod:`imusynth.experiments.run`.
    """

    name: str = field(metadata=_toml("name"))  # default: the TOML file's stem
    kind: str = field(metadata=_toml("kind"))
    data: str = field(metadata=_toml("data"))  # a dataset spec or an HDF5 windows file
    arms: tuple[str, ...] = field(metadata=_toml("grid.arms"))
    n_splits: int = field(default=5, metadata=_toml("cv.n_splits"))
    seeds: tuple[int, ...] = field(default=(0,), metadata=_toml("cv.seeds"))
    train_subjects: tuple[int, ...] = field(default=(0,), metadata=_toml("grid.train_subjects"))
    n_added: tuple[int, ...] = field(default=(0,), metadata=_toml("grid.n_added"))
    classifier: dict[str, Any] = field(default_factory=dict, metadata=_toml("classifier"))
    gan_config: str = field(default="watch_cgan.toml", metadata=_toml("gan.config"))
    gan_set: tuple[str, ...] = field(default=(), metadata=_toml("gan.set"))
    augment: dict[str, float] = field(default_factory=dict, metadata=_toml("augment"))
    rebalance_classes: tuple[str, ...] = field(default=(), metadata=_toml("rebalance.classes"))
    rebalance_fraction: float = field(default=0.1, metadata=_toml("rebalance.fraction"))
    device: str = "cpu"
    path: str = ""
    stratify: bool = field(default=False, metadata=_toml("cv.stratify"))
    classical_base: int = field(default=0, metadata=_toml("grid.classical_base"))
    gan_augment_to: int = field(default=0, metadata=_toml("gan.augment_to"))
    gan_generator_set: dict[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=_toml("gan.generator_set")
    )

    def generators(self) -> tuple[str, ...]:
        return tuple(sorted({a.split(":", 1)[1] for a in self.arms if ":" in a}))


# Tables whose keys are fixed, checked for unknown keys in this order; ``[augment]`` holds
# the parameters of the augmentation recipes, ``[classifier]`` the classifier's settings
# (checked when the experiment starts) and ``[quick]`` overrides of the other tables.
_SECTIONS = ("cv", "grid", "gan", "rebalance", "augment")
_FREE_TABLES = ("classifier", "quick")


def _keys() -> tuple[set[str], dict[str, set[str]]]:
    """The top-level TOML keys and each section's keys, from the fields' metadata."""
    top, sections = set(_FREE_TABLES), {name: set() for name in _SECTIONS}
    for f in dataclasses.fields(ExperimentConfig):
        section, _, key = f.metadata.get("toml", "").rpartition(".")
        if section:
            top.add(section)
            sections[section].add(key)
        elif key:
            top.add(key)
    sections["augment"] = set(AUGMENT_KEYS)
    return top, sections


def _toml_kind(hint: Any) -> type | tuple[type, ...]:
    """The type a TOML value of a field with this type hint must have."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        return list
    if origin is dict:
        return dict
    if hint is float:
        return (int, float)
    return hint


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


def _augment_params(table: dict[str, Any], path: Path) -> dict[str, float]:
    params = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError("expected a number", path=path, field=f"augment.{key}")
        params[key] = float(value)
    return params


def load_experiment(path: str | Path, *, quick: bool = False) -> ExperimentConfig:
    """Read an experiment TOML; ``quick`` applies its ``[quick]`` overrides.

    Relative paths (``data``, ``gan.config``) are resolved against the TOML's folder.

    Raises
    ------
    ConfigError
        A missing or unreadable file, an unknown or missing key, a value of the wrong type
        or out of range, an arm or generator the study does not know; naming the key.
    """
    path = Path(path)
    raw = read_toml(path, what="experiment config")
    top, sections = _keys()
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError("unknown key", path=path, field=unknown[0])
    if quick:
        for section, values in raw.get("quick", {}).items():
            if not isinstance(values, dict):
                raise ConfigError("expected a table", path=path, field=f"quick.{section}")
            raw.setdefault(section, {}).update(values)
    for section in _SECTIONS:
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError("expected a table", path=path, field=section)
        extra = sorted(set(table) - sections[section])
        if extra:
            raise ConfigError("unknown key", path=path, field=f"{section}.{extra[0]}")

    hints = typing.get_type_hints(ExperimentConfig)
    fields = {f.name: f for f in dataclasses.fields(ExperimentConfig)}

    def get(name: str) -> Any:
        f = fields[name]
        dotted = f.metadata["toml"]
        section, _, key = dotted.rpartition(".")
        if name == "name":
            default = path.stem
        elif f.default is not dataclasses.MISSING:
            default = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None  # required
        value = (raw.get(section, {}) if section else raw).get(key, default)
        if value is None:
            raise ConfigError("missing key", path=path, field=dotted)
        kind = _toml_kind(hints[name])
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ConfigError(f"wrong type {type(value).__name__}", path=path, field=dotted)
        if typing.get_origin(hints[name]) is tuple:
            return tuple(value)
        return float(value) if hints[name] is float else value

    kind = get("kind")
    if kind not in KINDS:
        raise ConfigError(f"must be one of {', '.join(KINDS)}", path=path, field="kind")
    values = {"kind": kind, "path": str(path)}
    for name in ("data", "gan_config"):
        values[name] = get(name)
        if not values[name].startswith("/"):
            values[name] = str((path.parent / values[name]).resolve())
    values["arms"] = get("arms")
    for arm in values["arms"]:
        base, _, gen = arm.partition(":")
        spec = find_arm(base)
        if spec is None or kind not in spec.kinds or spec.generator != bool(gen):
            raise ConfigError(
                f"unknown arm {arm!r} for a {kind} experiment", path=path, field="grid.arms"
            )
        if gen and gen not in WINDOW_GENERATORS + IMAGE_GENERATORS:
            raise ConfigError(f"unknown generator {gen!r}", path=path, field="grid.arms")
    for name, f in fields.items():
        if "toml" in f.metadata and name not in values:
            values[name] = get(name)
    values["classifier"] = dict(values["classifier"])
    values["augment"] = _augment_params(values["augment"], path)
    values["gan_generator_set"] = _generator_set(values["gan_generator_set"], path)
    cfg = ExperimentConfig(**values)
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


def freeze_gan_config(cfg: ExperimentConfig, out: Path) -> ExperimentConfig:
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


def portable_config(cfg: ExperimentConfig, folder: Path) -> dict[str, Any]:
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

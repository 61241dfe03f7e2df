"""What the window and the image GANs share: run folders, class counts, checks.

Run folder files (``config.toml`` and ``run.json``, written atomically), the checks made when
a run is resumed or a checkpoint loaded, per-class counts for sampling and balancing, the
fields of a synthetic set. What differs between the two lives in their modalities
(:mod:`imusynth.gan.windows`, :mod:`imusynth.gan.images`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.config import read_toml
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.train.config import GANConfig, config_from_dict, config_to_toml, validate_config
from imusynth.train.loop import CHECKPOINT_NAME

CONFIG_NAME = "config.toml"
META_NAME = "run.json"
SYNTHETIC_GROUP = "synthetic"

# ----------------------------------------------------------------------------- run folders


def write_run_files(run_dir: Path, config: GANConfig, meta: Mapping[str, Any]) -> None:
    """Write ``config.toml`` and ``run.json`` into ``run_dir``, each by an atomic rename."""
    for name, text in (
        (CONFIG_NAME, config_to_toml(config)),
        (META_NAME, json.dumps(meta, indent=2) + "\n"),
    ):
        tmp = run_dir / f".{name}.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(run_dir / name)
        finally:  # a failed write (a full disk) leaves no temporary behind
            tmp.unlink(missing_ok=True)


def read_meta(run_dir: Path) -> dict[str, Any] | None:
    """``run_dir``'s ``run.json``, or ``None`` when there is none."""
    path = run_dir / META_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable run metadata ({exc})", path=path) from None


def check_resume_meta(
    run_dir: Path,
    now: Mapping[str, Any],
    keys: Sequence[str],
    *,
    differ: str,
    missing_at: Path | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Refuse to resume ``run_dir`` unless its ``run.json`` agrees with ``now`` on ``keys``.

    ``differ`` is the message for a disagreement; ``missing_at`` the path a missing
    ``run.json`` is reported at (default: the file itself); ``defaults`` what a ``run.json``
    written before a key was stored stands for. A folder with neither ``run.json`` nor a
    checkpoint (a run killed before it wrote either) passes: the resume starts the run from
    step 0.
    """
    saved = read_meta(run_dir)
    if saved is None and not any(run_dir.glob(f"**/{CHECKPOINT_NAME}")):
        return
    if saved is None:
        raise CheckpointError(
            "nothing to resume: no run.json in the run folder",
            path=run_dir / META_NAME if missing_at is None else missing_at,
        )
    defaults = defaults or {}
    for key in keys:
        if saved.get(key, defaults.get(key)) != now[key]:
            raise CheckpointError(differ, path=run_dir / META_NAME, field=key)


def existing_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path, if it is a folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError("run folder not found", path=run_dir)
    return run_dir


def stored_config(ckpt: Mapping[str, Any], path: Path | None) -> GANConfig:
    """The validated config a checkpoint was trained with."""
    try:
        config = config_from_dict(ckpt["config"])
        validate_config(config)
    except ConfigError as exc:
        raise CheckpointError(f"bad stored config: {exc}", path=path, field="config") from None
    return config


def last_config(run_dir: Path, chosen: GANConfig) -> GANConfig:
    """The run's config (its ``config.toml``, which a resume with more steps rewrites), for a
    run that samples an earlier chosen checkpoint (``best.pt`` keeps the config it was chosen
    under); ``chosen`` when the file is missing or unreadable or names another model."""
    try:
        config = config_from_dict(read_toml(run_dir / CONFIG_NAME))
        validate_config(config)
    except ConfigError:
        return chosen
    return config if config.model == chosen.model else chosen


def synthetic_fields(run: Any, X: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
    """The fields a synthetic window or image set sampled from ``run`` shares: its rows are
    flagged ``is_synthetic``, in group ``"synthetic"``, with the run's class, channel and
    unit names, and name the run folder as their ``source``."""
    n = len(codes)
    return {
        "X": X,
        "y": codes,
        "groups": np.full(n, SYNTHETIC_GROUP),
        "classes": run.classes,
        "channels": run.channels,
        "units": run.units,
        "is_synthetic": np.ones(n, dtype=bool),
        "source": f"gan:{run.run_dir}" if run.run_dir is not None else "gan",
    }


# ----------------------------------------------------------------------------- class counts


def class_codes(
    run_classes: Sequence[str], per_class: int | Mapping[str, int], classes: Sequence[str] | None
) -> np.ndarray:
    """Class codes to sample, in the run's class order: ``per_class`` of each class.

    ``per_class`` is a count for every class in ``classes`` (default: all the run knows) or
    a mapping of class name to count (restricted to ``classes`` when given).
    """
    counts = np.zeros(len(run_classes), dtype=np.int64)
    if isinstance(per_class, Mapping):
        wanted = dict(per_class)
    else:
        wanted = {c: int(per_class) for c in (classes if classes is not None else run_classes)}
    if classes is not None and isinstance(per_class, Mapping):
        wanted = {c: n for c, n in wanted.items() if c in set(classes)}
    for name, n in wanted.items():
        if name not in run_classes:
            raise DataError(
                f"unknown class {name!r} (the run knows {', '.join(run_classes)})",
                field="classes",
            )
        if int(n) < 0:
            raise DataError(f"negative count {n} for class {name}", field="per_class")
        counts[list(run_classes).index(name)] = int(n)
    return np.repeat(np.arange(len(run_classes)), counts)


def shortfall(y: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """How many rows each class of ``(y, classes)`` lacks to match the largest class."""
    counts = np.bincount(y, minlength=len(classes))
    return {c: int(counts.max() - k) for c, k in zip(classes, counts, strict=True)}


def check_known_classes(classes: Sequence[str], run_classes: Sequence[str]) -> None:
    """Every class of the data is one the run can generate."""
    unknown = [c for c in classes if c not in run_classes]
    if unknown:
        raise DataError(
            f"class(es) {', '.join(unknown)} unknown to the run ({', '.join(run_classes)})",
            field="classes",
        )


def recode(run_classes: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """An array mapping the run's class codes to codes into ``classes`` (-1: not there)."""
    classes = list(classes)
    return np.array([classes.index(c) if c in classes else -1 for c in run_classes])


def check_label_range(y: np.ndarray, n_classes: int | None) -> None:
    """Class codes lie in ``0..n_classes - 1`` (any non-negative code when ``None``)."""
    if y.min() < 0 or (n_classes is not None and y.max() >= n_classes):
        raise DataError(f"label codes must lie in 0..{(n_classes or 1) - 1}", field="y")


def group_ids(groups: Any, n: int) -> np.ndarray:
    """``groups`` checked to hold ``n`` ids, or ``n`` blank ids when it is ``None``."""
    if groups is None:
        return np.full(n, "")
    if np.shape(groups) != (n,):
        raise DataError(f"expected {n} group ids, got shape {np.shape(groups)}", field="groups")
    return np.asarray(groups)

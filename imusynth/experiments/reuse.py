"""Start a results folder with the finished GANs of another one (``--gans-from``).

The GANs are what an experiment spends its hours on; the classifiers that read their windows
take minutes. To run other arms, classifier settings or classifier seeds on the same GANs,
a new results folder can adopt the GANs that an earlier one finished, provided they were
trained on what the new experiment would train them on: the same data, folds, cut of rare
classes and GAN config. Anything that decides a GAN's training set must match, or the
adopted GAN could have seen a unit's test subjects; a mismatch is an error naming the key.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from operator import attrgetter
from pathlib import Path

from imusynth.errors import ConfigError
from imusynth.experiments.config import (
    DATA_INFO,
    GAN_SNAPSHOT,
    SAVED_KEYS,
    ExperimentConfig,
    load_saved_config,
)
from imusynth.locks import LOCK_NAME

__all__ = ["adopt_gans"]

log = logging.getLogger(__name__)

# config.json keys that no GAN's training set depends on (a GAN is cached per fold, seed,
# training size and generator: which units run, and what the classifiers do, may differ).
GAN_NEUTRAL = (
    "name",
    "arms",
    "seeds",
    "train_subjects",
    "n_added",
    "classifier",
    "gan_config",  # the frozen copies are compared instead
    "device",
    "path",
    "classical_base",
)


def adopt_gans(cfg: ExperimentConfig, source: str | Path, out: Path, data_info: dict) -> int:
    """Link (or copy) the finished GANs of the results folder ``source`` into ``out/gans``
    and its frozen GAN config to ``out``; returns how many GANs were adopted.

    GANs ``out`` has already are kept, unfinished ones in ``source`` skipped.

    Raises
    ------
    ConfigError
        ``source`` is not a results folder with GANs, or it differs from ``cfg`` in a key a
        GAN's training set depends on (data, folds, rare-class cut, GAN settings), in its data
        (``data.json``), or in its frozen GAN config from one ``out`` already holds.
    """
    source = Path(source)
    snapshot = source / GAN_SNAPSHOT
    if not snapshot.is_file() or not (source / "gans").is_dir():
        raise ConfigError("not a results folder with GANs (gan_config.toml, gans/)", path=source)
    saved = load_saved_config(source)
    for key, dotted in SAVED_KEYS.items():
        if key in GAN_NEUTRAL:
            continue
        mine, theirs = attrgetter(dotted)(cfg), attrgetter(dotted)(saved)
        if key == "data":  # by name (checkouts differ); data.json compares the contents
            mine, theirs = Path(mine).name, Path(theirs).name
        if mine != theirs:
            raise ConfigError(
                f"its GANs were trained with {key} = {theirs!r}, this experiment has {mine!r}",
                path=source,
                field=key,
            )
    info = source / DATA_INFO
    theirs_data = json.loads(info.read_text()) if info.is_file() else {}
    for key in ("classes", "shape", "groups", "source"):
        if key in theirs_data and theirs_data[key] != data_info[key]:
            raise ConfigError(
                f"its GANs were trained on other data ({key} {theirs_data[key]!r}, "
                f"here {data_info[key]!r})",
                path=info,
            )
    mine_snapshot = out / GAN_SNAPSHOT
    if mine_snapshot.exists() and mine_snapshot.read_text() != snapshot.read_text():
        raise ConfigError(
            f"its GANs were trained from another GAN config than {mine_snapshot}", path=snapshot
        )
    out.mkdir(parents=True, exist_ok=True)
    if not mine_snapshot.exists():
        shutil.copy2(snapshot, mine_snapshot)
    adopted = 0
    for run in sorted((source / "gans").iterdir()):
        target = out / "gans" / run.name
        if not (run / "DONE").exists() or target.exists():
            continue
        shutil.copytree(run, target, copy_function=_link_or_copy, ignore=_lock_files)
        adopted += 1
    log.info("adopted %d finished GAN(s) of %s", adopted, source)
    return adopted


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link where the file system allows one (a GAN's checkpoints are megabytes)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _lock_files(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == LOCK_NAME]

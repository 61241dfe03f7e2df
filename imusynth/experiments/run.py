"""Running an experiment: every cell of the grid, in-fold only, resumable, in parallel.

One grid cell is (fold, seed, training size, number of added samples, arm). Everything that
learns from data -- the classifier's normaliser, the augmenters' choice of source windows and
the GANs -- sees the training subjects of the cell's fold only. GANs are trained once per
(fold, seed, training size, generator) and cached on disk, so every arm that uses synthetic
data reuses the same generator. Rows are appended to ``results.csv`` as cells finish; an
interrupted experiment resumes from the rows it has, and a GAN killed while it trained from its
last checkpoint in its cache folder. One experiment at a time writes to a
results folder (:mod:`imusynth.locks`); a second one is refused.

Generators: ``conv1d`` and ``kinematic`` for windows (:class:`imusynth.gan.ConditionalGAN`),
``dcgan`` (one GAN per class) and ``acgan`` for images (:class:`imusynth.gan.ImageGAN`).
With ``gan.augment_to`` set, a GAN trains on the fold's training windows classically
augmented to that many per class, as Frid-Adar et al. trained their GANs. Each cell's row
holds its scores and its test confusion matrix (``cm_<true>_<predicted>``), which
:mod:`imusynth.experiments.report` summarises.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.augment.recipes import augmenter_for
from imusynth.data import WindowSet
from imusynth.errors import ConfigError
from imusynth.experiments.arms import ArmInput, arm_spec
from imusynth.experiments.backends import LOCAL_BACKENDS, check_backend, one_unit_at_a_time
from imusynth.experiments.config import (
    CONFIG_INFO,
    DATA_INFO,
    GAN_SNAPSHOT,
    ExperimentConfig,
    freeze_gan_config,
    portable_config,
)
from imusynth.experiments.grid import (
    Unit,
    Wording,
    append_rows,
    cell_key,
    cell_seed,
    check_generators,
    check_subject_draws,
    cut_minority,
    load_data,
    make_folds,
    modality,
    read_rows,
    repair_tail,
    training_set,
    unit_cells,
)
from imusynth.locks import folder_lock
from imusynth.train.config import IMAGE_GENERATORS

__all__ = ["run_experiment"]

log = logging.getLogger(__name__)


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    device: str = "cpu",
    progress: bool = False,
    windows: WindowSet | None = None,
    backend: str = "loky",
    gans_from: str | Path | None = None,
) -> Path:
    """Run (or resume) every cell of the grid; returns the path of ``results.csv``.

    ``gans_from``: a results folder whose finished GANs this one adopts (linked, not
    retrained) when they were trained on what this experiment would train them on
    (:func:`~imusynth.experiments.reuse.adopt_gans`; a mismatch is a ``ConfigError``).

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
    backend, the data, the folds and training sizes (a draw of fewer training subjects
    must keep every class of its fold: :func:`~imusynth.experiments.grid.draw_subjects`),
    the classes to cut, the classifier's and the GANs' settings (with the device's
    precision) and every GAN arm's generator against the data
    (:func:`~imusynth.gan.checks.check_generator_data`). While it runs, the folder is
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
    check_backend(backend)
    out = Path(out_dir)
    ws = windows if windows is not None else load_data(cfg.data)
    folds = _check_before_writing(cfg, ws, out, device)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "results folder"):
        return _run_locked(cfg, ws, folds, out, jobs, device, progress, backend, gans_from)


def _check_before_writing(
    cfg: ExperimentConfig, ws: WindowSet, out: Path, device: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every check a cell would make later, made once before the first write; the folds."""
    from imusynth.runtime import resolve_device

    where = cfg.path or None
    resolve_device(device)
    check_generators(cfg, ws)
    folds = make_folds(cfg, ws)
    fewest = min(len(np.unique(ws.groups[train])) for train, _ in folds)
    if max(cfg.grid.train_subjects) > fewest:
        raise ConfigError(
            f"{max(cfg.grid.train_subjects)} training {Wording.of(modality(ws)).groups} asked, "
            f"a fold has {fewest}",
            path=where,
            field="grid.train_subjects",
        )
    check_subject_draws(cfg, ws, folds)
    unknown = [c for c in cfg.rebalance.classes if c not in ws.classes]
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
    augmenter_for(cfg.augment, ws.X.ndim)
    if cfg.generators():
        from imusynth.gan.checks import check_generator_data
        from imusynth.train.config import load_config
        from imusynth.train.loop import check_train_setup

        # A resume trains from the results folder's frozen copy, a first run from the file.
        source = out / GAN_SNAPSHOT if (out / GAN_SNAPSHOT).is_file() else cfg.gan.config
        for gen in cfg.generators():
            overrides = [
                *cfg.gan.set,
                *cfg.gan.generator_set.get(gen, ()),
                f"model.generator={gen}",
            ]
            gan_config = load_config(source, overrides)
            check_train_setup(gan_config.train, device)
            try:
                check_generator_data(gan_config, ws)
            except ConfigError as exc:
                raise ConfigError(
                    f"generator {gen!r} does not fit the data: {exc.message}",
                    path=where,
                    field="grid.arms",
                ) from None
    return folds


def _run_locked(cfg, ws, folds, out, jobs, device, progress, backend, gans_from=None) -> Path:
    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    data_info = {
        "classes": list(ws.classes),
        "modality": modality(ws),
        "shape": list(ws.X.shape),
        "groups": len(np.unique(ws.groups)),
        "source": ws.source,
    }
    if gans_from is not None and cfg.generators():
        from imusynth.experiments.reuse import adopt_gans

        adopt_gans(cfg, gans_from, out, data_info)
    (out / CONFIG_INFO).write_text(json.dumps(portable_config(cfg, out), indent=2, default=str))
    cfg = freeze_gan_config(cfg, out)
    (out / DATA_INFO).write_text(json.dumps(data_info, indent=2))
    results = out / "results.csv"
    repair_tail(results)
    done = {cell_key(r) for r in read_rows(results)}
    units = [
        Unit(f, s, k)
        for f in range(cfg.cv.n_splits)
        for s in cfg.cv.seeds
        for k in cfg.grid.train_subjects
    ]
    # What each unit still has to do (an interrupted run resumes where it stopped).
    missing = {
        u: [c for c in unit_cells(cfg, u) if (u.fold, u.seed, u.train_subjects, *c) not in done]
        for u in units
    }
    todo = [u for u in units if missing[u]]
    total = sum(len(unit_cells(cfg, u)) for u in units)
    n_todo = sum(len(cells) for cells in missing.values())
    bar = tqdm(
        total=total,
        initial=total - n_todo,
        desc=cfg.name,
        disable=not progress,
        unit="cell",
    )
    # Units pin torch's threads wherever they may run beside others; a serial run keeps the
    # caller's setting.
    pin = jobs > 1 or backend not in LOCAL_BACKENDS
    level = logging.getLogger("imusynth").getEffectiveLevel()  # for workers' own logs
    where = out.resolve()  # workers may not share the caller's working directory
    work = [
        delayed(_run_unit)(cfg, ws, folds[u.fold], u, done, where, device, jobs, pin, level)
        for u in todo
    ]
    # Dask: send the data to every worker once, not inside every unit's task.
    scatter = {"scatter": [ws]} if backend == "dask" else {}
    start, n = time.perf_counter(), total - n_todo
    with parallel_config(backend=backend, **scatter):
        for rows in Parallel(n_jobs=jobs, return_as="generator_unordered")(work):
            append_rows(results, rows)
            bar.update(len(rows))
            n += len(rows)
            if not progress:  # a log without a bar (nohup, a cluster) still shows the pace
                log.info(_pace(cfg.name, rows, n, total, n_todo, start))
    bar.close()
    return results


def _pace(
    name: str, rows: list[dict[str, Any]], n: int, total: int, todo: int, start: float
) -> str:
    """A line for a finished unit: which, cells done of all, minutes so far and a linear
    estimate of the rest (from this call's pace; ``todo`` cells were left when it started)."""
    elapsed = time.perf_counter() - start
    rest = elapsed / (todo - (total - n)) * (total - n)
    unit = f"fold {rows[0]['fold']} seed {rows[0]['seed']}"
    left = ""
    if n < total:
        left = f", about {rest / 60:.0f} min left" if rest >= 60 else ", under a minute left"
    return f"{name}: {unit} done, {n}/{total} cells, {elapsed / 60:.0f} min so far{left}"


def _run_unit(
    cfg, ws, split, unit, done, out, device, jobs, pin, level=logging.WARNING
) -> list[dict[str, Any]]:
    """The rows of one unit's cells; with ``pin``, torch uses ``cpu_count() // jobs`` threads
    of the machine that runs it (one worker's share of its cores). A worker process that has
    no logging set up logs imusynth's records of ``level`` and above to its stderr (a GAN's
    pace every tenth of its steps), as the caller would."""
    _worker_logging(level)
    with one_unit_at_a_time(max(1, (os.cpu_count() or 1) // jobs) if pin else None):
        return _unit_rows(cfg, ws, split, unit, done, out, device)


def _worker_logging(level: int) -> None:
    """Give a fresh worker process (loky, dask) a stderr handler for imusynth's logger at
    ``level``; a process with handlers already (the caller itself, a serial run) is left
    alone."""
    logger = logging.getLogger("imusynth")
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def _unit_rows(cfg, ws, split, unit, done, out, device, clf_repeat=0) -> list[dict[str, Any]]:
    """The unit's result rows, one per (added, arm) cell not in ``done``. ``clf_repeat`` > 0
    starts the cell's classifier seeds further along (the same seeds for each arm, so arms
    stay paired); 0 starts at the study's own seed."""
    train_idx, test_idx = split
    train = training_set(cfg, ws, train_idx, unit)
    test = ws.subset(test_idx)
    full_train = train
    if cfg.kind == "rebalancing":
        train = cut_minority(cfg, train, unit)
    minority = [train.classes.index(c) for c in cfg.rebalance.classes]
    gans: dict[str, Any] = {}
    rows = []
    for n_added, arm in unit_cells(cfg, unit):
        if (unit.fold, unit.seed, unit.train_subjects, n_added, arm) in done:
            continue
        base, _, gen = arm.partition(":")
        if gen and gen not in gans:
            gans[gen] = _fitted_gan(cfg, train, unit, gen, out, device)
        rng = np.random.default_rng(
            cell_seed("arm", unit.fold, unit.seed, unit.train_subjects, n_added, arm)
        )
        spec = arm_spec(base)
        source = full_train if spec.uncut else train
        X, y, groups, clf_kwargs = spec.build(
            ArmInput(
                cfg.kind, cfg.augment, cfg.grid.classical_base, source, n_added, gans.get(gen), rng
            )
        )
        groups = groups if len(np.unique(groups[groups != ""])) > 1 else None
        n_seeds = int(cfg.classifier.get("seeds", 1))
        scores = []
        for r in range(clf_repeat, clf_repeat + n_seeds):
            # the first seed is the one every study used before ``seeds`` existed
            clf_seed = cell_seed("clf", unit.fold, unit.seed, *([r] if r else []))
            clf = _classifier(cfg, device, seed=clf_seed, n_train=len(X), **clf_kwargs)
            clf.fit(X, y, groups=groups)
            scores.append(_scores(test.y, clf.predict(test.X), test.n_classes, minority))
        n_real = len(source) if spec.real else 0
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
                **_mean_scores(scores),
            }
        )
    return rows


def _mean_scores(scores: list[dict[str, float]]) -> dict[str, float]:
    """One cell's row from its classifier seeds' scores: each score's mean, the confusion
    matrices summed (so per-class tables count every fit), and with several seeds their
    number and the spread of macro-F1 (``macro_f1_seed_sd``, ddof 1)."""
    if len(scores) == 1:
        return scores[0]
    out = {}
    for key in scores[0]:
        values = [s[key] for s in scores]
        out[key] = int(sum(values)) if key.startswith("cm_") else float(np.mean(values))
    out["classifier_seeds"] = len(scores)
    out["macro_f1_seed_sd"] = float(np.std([s["macro_f1"] for s in scores], ddof=1))
    return out


def _classifier(cfg: ExperimentConfig, device: str, seed: int, n_train: int, **overrides):
    """The arm's classifier. ``classifier.sample_budget`` caps the samples seen per fit:
    ``epochs`` shrinks to ``ceil(budget / n_train)`` for large (augmented) training sets, so
    every arm gets about the same number of gradient steps."""
    from imusynth.train.classifiers import CNNClassifier

    params = {**cfg.classifier, **overrides}
    params.pop("seeds", None)  # how many classifiers a cell trains (_unit_rows)
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
    from imusynth.gan import ConditionalGAN, ImageGAN
    from imusynth.train.config import load_config

    estimator = ImageGAN if generator in IMAGE_GENERATORS else ConditionalGAN
    run_dir = out / "gans" / f"fold{unit.fold}-seed{unit.seed}-k{unit.train_subjects}-{generator}"
    if (run_dir / "DONE").exists():
        return estimator.load(run_dir, device=device)
    overrides = [
        *cfg.gan.set,
        *cfg.gan.generator_set.get(generator, ()),
        f"model.generator={generator}",
        f"train.seed={cell_seed('gan', unit.fold, unit.seed, unit.train_subjects) % 2**31}",
    ]
    # Training writes checkpoints into run_dir, so a killed experiment resumes its GANs too.
    gan = estimator(config=load_config(cfg.gan.config, overrides), device=device, run_dir=run_dir)
    X, y, src = train.X, train.y, np.arange(len(train))
    if cfg.gan.augment_to:
        from imusynth.augment import augment_to_counts

        counts = np.bincount(y, minlength=train.n_classes)
        targets = {c: max(int(n), cfg.gan.augment_to) for c, n in enumerate(counts)}
        rng = np.random.default_rng(
            cell_seed("gan-augment", unit.fold, unit.seed, unit.train_subjects)
        )
        augmenter = augmenter_for(cfg.augment, X.ndim)
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
            gravity=train.gravity,
            placement=train.placement,
        )
    (run_dir / "DONE").write_text("ok\n")
    return gan


def _scores(y_true, y_pred, n_classes, minority) -> dict[str, float]:
    """The scores of one cell's row: accuracy, balanced accuracy, macro-F1, the mean recall
    of the ``minority`` classes, each class's recall (0 for a class absent from the test
    set) and the test confusion matrix (``cm_<true>_<predicted>``)."""
    from imusynth.metrics.classification import classification_metrics

    report = classification_metrics(y_true, y_pred, labels=np.arange(n_classes))
    recalls = np.array([0.0 if r is None else r for r in report["sensitivity"].values()])
    out = {key: report[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")}
    out["minority_recall"] = float(np.mean(recalls[minority])) if minority else float("nan")
    for c, r in enumerate(recalls):
        out[f"recall_{c}"] = float(r)
    out = {k: float(v) for k, v in out.items()}
    cm = report["confusion_matrix"]  # rows: true, columns: predicted
    for i in range(n_classes):
        for j in range(n_classes):
            out[f"cm_{i}_{j}"] = int(cm[i][j])
    return out

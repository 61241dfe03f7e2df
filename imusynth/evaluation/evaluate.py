"""The evaluation report of a synthetic window set: usefulness, fidelity and diversity.

:func:`evaluate` takes a real training set, a real test set of other subjects, and synthetic
windows (made by a generator trained on the real training set) and returns one JSON-ready
dict; with ``out_dir`` it also writes ``metrics.json``, ``report.md`` and the figures there.

Reference set. The fidelity metrics (discriminative scores, Fréchet distance, MMD, PSD and
autocorrelation distances, diversity) compare the synthetic windows with the real *training*
windows, the distribution the generator was asked to learn. Every score comes with a
reference to read it against: the subject-held-out discriminative score with its floor (the
same judge on real vs real windows of disjoint training subjects), the other scores with the
same score between the real test and real training windows (``*_reference``: two real
samples of different subjects). :func:`summary_rows` pairs each score with its reference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imusynth.data import WindowSet
from imusynth.data.normalize import ChannelNormalizer
from imusynth.data.splits import check_disjoint
from imusynth.errors import ConfigError, DataError
from imusynth.evaluation.report import (
    COVERAGE_AXES,
    GIVEAWAY_FEATURES,
    summary_rows,
    write_report,
)
from imusynth.metrics import fidelity
from imusynth.metrics.classification import tstr_trts
from imusynth.metrics.embedding import WindowEmbedding, coverage_metrics, feature_mmd
from imusynth.metrics.giveaway import giveaway_report
from imusynth.metrics.judges import (
    JudgeScore,
    heldout_discriminative_floor,
    heldout_discriminative_score,
)
from imusynth.metrics.kinematic import kinematic_plausibility
from imusynth.metrics.timegan import timegan_discriminative_score, timegan_predictive_score
from imusynth.models.features import FeatureRandomForest
from imusynth.train.classifiers import CNNClassifier

__all__ = [
    "CLASSIFIERS",
    "FIGURES",
    "KINEMATIC_WINDOWS",
    "check_compatible",
    "evaluate",
    "make_classifier",
    "summary_rows",
]

log = logging.getLogger(__name__)

CLASSIFIERS = ("frid_adar", "resnet", "rf")
FIGURES = (
    "overlays.png",
    "psd.png",
    "log_psd.png",
    "giveaway.png",
    "embedding.png",
    "confusion.png",
)
KINEMATIC_WINDOWS = 200
TIMEGAN_ITERATIONS = (2000, 5000)  # discriminator, predictor: the published settings


def make_classifier(
    name: str,
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = False,
    params: Mapping[str, Any] | None = None,
) -> CNNClassifier | FeatureRandomForest:
    """A fresh, unfitted classifier by name: ``"frid_adar"``, ``"resnet"`` or ``"rf"``.

    ``params`` override the estimator's defaults (e.g. ``{"epochs": 30}``).

    Examples
    --------
    >>> make_classifier("resnet", params={"epochs": 5}).epochs
    5
    """
    params = dict(params or {})
    try:
        if name in ("frid_adar", "resnet"):
            return CNNClassifier(
                name, device=device, random_state=seed, progress=progress, **params
            )
        if name == "rf":
            return FeatureRandomForest(random_state=seed, **params)
    except TypeError as exc:
        raise ConfigError(f"bad classifier parameter: {exc}", field="classifier_params") from exc
    raise ConfigError(
        f"unknown classifier {name!r}; choose one of {CLASSIFIERS}", field="classifier"
    )


def check_compatible(train: WindowSet, test: WindowSet, synthetic: WindowSet) -> None:
    """Raise :class:`DataError` unless the three sets can be compared.

    They must share classes, channels, window shape and sampling rate, none may be empty,
    the real train and test sets must not share a subject, and no synthetic window may
    carry the id of a test subject (that would mean the generator saw the test subjects).

    Examples
    --------
    >>> def ws(groups):
    ...     return WindowSet(np.zeros((2, 1, 8), np.float32), [0, 1], groups, ("a", "b"),
    ...                      ("x",), ("g",), 50.0)
    >>> check_compatible(ws(["s1", "s2"]), ws(["s2", "s3"]), ws(["G", "G"]))
    Traceback (most recent call last):
    ...
    imusynth.errors.DataError: groups: train and test share subject(s) s2
    """
    sets = {"train": train, "test": test, "synthetic": synthetic}
    for name, ws in sets.items():
        if len(ws) == 0:
            raise DataError(f"the {name} set has no windows", field="X")
    for name, ws in sets.items():
        train.check_compatible(
            ws, check=("classes", "channels", "shape", "sampling_rate_hz"), name=name, like="train"
        )
    check_disjoint(train.groups, test.groups)
    leaked = sorted(set(synthetic.groups.tolist()) & set(test.groups.tolist()))
    if leaked:
        raise DataError(
            f"synthetic windows are labelled with test subject(s) {', '.join(leaked)}; a "
            "generator must be trained on the training subjects only",
            field="groups",
        )


def evaluate(
    train: WindowSet,
    test: WindowSet,
    synthetic: WindowSet,
    *,
    classifier: str = "frid_adar",
    seed: int = 0,
    device: str = "cpu",
    out_dir: str | Path | None = None,
    progress: bool = False,
    classifier_params: Mapping[str, Any] | None = None,
    kinematic: bool = False,
    judge_repeats: int = 5,
    timegan: bool = True,
    timegan_iterations: tuple[int, int] = TIMEGAN_ITERATIONS,
) -> dict[str, Any]:
    """Score synthetic windows against real ones; optionally write a report folder.

    Parameters
    ----------
    train, test : WindowSet
        Real windows; no subject may be in both.
    synthetic : WindowSet
        Generated windows with the same classes, channels and window shape.
    classifier : {"frid_adar", "resnet", "rf"}
        The classifier used for TRTR / TSTR / TRTS and whose features embed the windows
        for the Fréchet distance.
    seed : int
        Seeds every classifier and subsample.
    device : str
        Device of the CNN classifiers.
    out_dir : str or Path, optional
        Folder (created if missing) for ``metrics.json``, ``report.md`` (every score beside
        its reference) and the figures :data:`FIGURES`.
    progress : bool
        Progress bars while fitting CNNs.
    classifier_params : mapping, optional
        Overrides of the classifier's defaults, e.g. ``{"epochs": 30}``.
    kinematic : bool
        Also fit the arm model to (up to :data:`KINEMATIC_WINDOWS` of) the synthetic and the
        real training windows -- slow -- and report range-of-motion plausibility and the
        fit R^2 (``kinematic``, ``kinematic_reference``); None when
        :mod:`imusynth.kinematics` lacks inverse kinematics.
    judge_repeats : int
        Subject splits of the held-out discriminative score and of its floor.
    timegan : bool
        Also run TimeGAN's post-hoc GRU judges (discriminative and predictive score, as
        published; minutes on a CPU); False reports them as None.
    timegan_iterations : (int, int)
        Training iterations of the GRU discriminator and predictor (published: 2000, 5000).

    Returns
    -------
    dict
        ``trtr_accuracy``, ``tstr_accuracy``, ``trts_accuracy`` (and ``*_balanced_accuracy``,
        ``*_macro_f1``); ``discriminative_score`` (subject-held-out, mean over
        ``judge_repeats`` splits; see
        :func:`~imusynth.metrics.judges.heldout_discriminative_score`), its
        ``discriminative_score_sd`` and its real-vs-real floor ``discriminative_score_floor``
        (and ``_sd``; None with fewer than 4 training subjects);
        ``discriminative_score_random_split`` (the older judge whose random split lets it
        recognise subjects; kept for comparison) and its ``_reference``;
        ``timegan_discriminative_score`` and ``timegan_predictive_score`` (None when
        ``timegan`` is False); ``frechet_distance``, ``mmd``, ``psd_distance``,
        ``autocorrelation_distance``, ``diversity_ratio``; the ``*_reference`` values of
        real test vs real train; ``judges`` (every judge's values per repetition);
        ``per_class`` (class name ->
        sensitivity / specificity of TRTR, TSTR and TRTS and the per-class distances),
        the full reports ``trtr``, ``tstr``, ``trts``, ``kinematic`` and
        ``kinematic_reference`` (or None); ``residual_share`` (``{"accel", "gyro"}``: the
        kinematic generator's residual branch's share of the output power at the end of
        training, read from the ``metrics.csv`` of the run folder the synthetic set names
        as its ``source``, ``"gan:RUN"``; None for other generators or when the folder is
        not found); ``config`` and ``figures`` (file names written to ``out_dir``).

    Raises
    ------
    DataError
        When train and test share subjects (named in the message), synthetic windows carry
        test subject ids, or the sets differ in classes, channels, window shape or sampling
        rate.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> def ws(n, subjects):
    ...     y = np.arange(n) % 2
    ...     X = rng.normal(size=(n, 3, 32)).astype(np.float32) + y[:, None, None]
    ...     return WindowSet(X, y, np.resize(subjects, n), ("a", "b"), ("x", "y", "z"),
    ...                      ("g",) * 3, 50.0)
    >>> m = evaluate(ws(40, ["s1", "s2"]), ws(20, ["s3"]), ws(40, ["G"]), classifier="rf",
    ...              classifier_params={"n_estimators": 20}, timegan=False)
    >>> m["trtr_accuracy"] > 0.8
    True
    """
    check_compatible(train, test, synthetic)
    labels = np.arange(len(train.classes))
    names = list(train.classes)

    def factory() -> Any:
        return make_classifier(
            classifier, seed=seed, device=device, progress=progress, params=classifier_params
        )

    log.info("fitting %s on %d real training windows", classifier, len(train))
    real_model = factory().fit(train.X, train.y, groups=train.groups)
    reports = tstr_trts(
        factory,
        train.X,
        train.y,
        synthetic.X,
        synthetic.y,
        test.X,
        test.y,
        groups_train=train.groups,
        real_model=real_model,
        labels=labels,
        class_names=names,
    )
    metrics: dict[str, Any] = {}
    for key in ("trtr", "tstr", "trts"):
        for score in ("accuracy", "balanced_accuracy", "macro_f1"):
            metrics[f"{key}_{score}"] = reports[key][score]

    log.info("fidelity metrics")
    windows = train.X.ndim == 3
    norm = ChannelNormalizer().fit(train.X)
    z_train, z_test, z_syn = (norm.transform(ws.X) for ws in (train, test, synthetic))
    standardize = isinstance(real_model, FeatureRandomForest)
    metrics.update(
        _judges(train, test, synthetic, seed, device, judge_repeats, timegan, timegan_iterations)
    )
    # Each distance beside its reference: the same distance from real test windows.
    for suffix, other, z_other in (("", synthetic, z_syn), ("_reference", test, z_test)):
        metrics["frechet_distance" + suffix] = fidelity.classifier_frechet_distance(
            train.X, other.X, real_model, standardize=standardize
        )
        metrics["mmd" + suffix] = fidelity.mmd_rbf(z_train, z_other, seed=seed)
    per: dict[str, dict[str, Any]] = {}
    class_metrics: dict[str, Callable[..., float]] = {"diversity_ratio": fidelity.diversity_ratio}
    if windows:
        class_metrics = {
            "psd_distance": fidelity.psd_distance,
            "autocorrelation_distance": fidelity.autocorrelation_distance,
            **class_metrics,
        }
    for key, fn in class_metrics.items():
        values = fidelity.per_class(fn, z_train, train.y, z_syn, synthetic.y, labels)
        per[key] = {names[k]: v for k, v in values.items()}
        metrics[key] = _mean(values.values())
    if not windows:
        metrics["psd_distance"] = metrics["autocorrelation_distance"] = None

    giveaway = None
    if windows:
        metrics.update(_embedded(train, test, synthetic, seed))
        giveaway = giveaway_report(
            train.X,
            synthetic.X,
            train.channels,
            train.sampling_rate_hz,
            real_groups=train.groups,
            top=GIVEAWAY_FEATURES,
        )
        metrics["giveaway"] = giveaway.to_dict(orient="records")
    else:
        metrics["giveaway"] = None
    if windows:
        ref = fidelity.per_class(fidelity.psd_distance, z_train, train.y, z_test, test.y, labels)
        metrics["psd_distance_reference"] = _mean(ref.values())

    metrics["per_class"] = _per_class_table(reports, per, names, train, test, synthetic)
    metrics.update(reports)
    metrics["kinematic"] = metrics["kinematic_reference"] = None
    if kinematic and windows:
        # Inverse kinematics takes seconds per window: score a fixed-size random subset of
        # the synthetic and of the real training windows, so the two can be compared.
        for key, ws in (("kinematic", synthetic), ("kinematic_reference", train)):
            metrics[key] = kinematic_plausibility(
                ws.X,
                ws.sampling_rate_hz,
                side=ws.side,
                max_windows=KINEMATIC_WINDOWS,
                seed=seed,
                device=device,
            )
    metrics["residual_share"] = _residual_share(synthetic)
    metrics["config"] = {
        "classifier": classifier,
        "classifier_params": dict(classifier_params or {}),
        "seed": seed,
        "judge_repeats": judge_repeats,
        "timegan_iterations": list(timegan_iterations) if timegan else None,
        "n_train": len(train),
        "n_test": len(test),
        "n_synthetic": len(synthetic),
        "train_subjects": sorted(np.unique(train.groups).tolist()),
        "test_subjects": sorted(np.unique(test.groups).tolist()),
        "classes": names,
        "channels": list(train.channels),
        "sources": {"train": train.source, "test": test.source, "synthetic": synthetic.source},
    }
    metrics["figures"] = []
    if out_dir is not None:
        metrics["figures"] = write_report(
            Path(out_dir), metrics, reports, train, synthetic, z_train, z_syn, giveaway
        )
    return metrics


def _residual_share(synthetic: WindowSet) -> dict[str, float] | None:
    """The residual share of the run the synthetic set was sampled from (see
    :mod:`imusynth.gan.residual`), when its source names a run folder that has one."""
    from imusynth.gan.residual import residual_share_of_run

    for prefix in ("gan:", "run:"):  # the library's synthetic sets; `imusynth sample` files
        if synthetic.source.startswith(prefix):
            return residual_share_of_run(synthetic.source[len(prefix) :])
    return None


def _embedded(
    train: WindowSet, test: WindowSet, synthetic: WindowSet, seed: int
) -> dict[str, float]:
    """Fréchet distance, MMD and coverage on window features standardised on real training
    windows, each beside the same score of the real test subjects (its reference)."""
    embedding = WindowEmbedding().fit(train.X)
    # Coverage on the first principal axes: in all ~200 feature dimensions every subject
    # sits in a region of its own, and held-out real subjects cover only a few per cent.
    axes = WindowEmbedding(n_components=COVERAGE_AXES).fit(train.X)
    # The real training windows are embedded once and compared with both other sets.
    real, real_axes = embedding.transform(train.X), axes.transform(train.X)
    out: dict[str, float] = {}
    for suffix, other in (("", synthetic), ("_reference", test)):
        fake = embedding.transform(other.X)
        out["embedded_frechet_distance" + suffix] = fidelity.frechet_distance(real, fake)
        out["embedded_mmd" + suffix] = feature_mmd(real, fake, seed=seed)
        cover = coverage_metrics(real_axes, axes.transform(other.X), seed=seed)
        for key, value in cover.items():
            out[key + suffix] = value
    return out


def _judges(
    train: WindowSet,
    test: WindowSet,
    synthetic: WindowSet,
    seed: int,
    device: str,
    repeats: int,
    timegan: bool,
    iterations: tuple[int, int],
) -> dict[str, Any]:
    """The discriminative judges and their references (see :func:`evaluate`)."""
    windows = train.X.ndim == 3
    judge = "features" if windows else "cnn"
    common = {"classifier": judge, "n_repeats": repeats, "seed": seed, "device": device}
    log.info("subject-held-out discriminative score (%d splits)", repeats)
    scores: dict[str, JudgeScore | None] = {
        "heldout": heldout_discriminative_score(
            train.X,
            train.groups,
            synthetic.X,
            synthetic.groups,
            y_real=train.y,
            y_fake=synthetic.y,
            **common,
        ),
        "heldout_floor": None,
        "timegan_discriminative": None,
        "timegan_discriminative_reference": None,
        "timegan_predictive": None,
        "timegan_predictive_reference": None,
    }
    if len(np.unique(train.groups)) >= 4:
        scores["heldout_floor"] = heldout_discriminative_floor(
            train.X, train.groups, y=train.y, **common
        )
    else:
        log.warning("the real-vs-real floor needs at least 4 training subjects; not reported")
    if timegan and windows:
        n_disc, n_pred = iterations
        log.info("TimeGAN post-hoc GRU judges (%d + %d iterations, twice)", n_disc, n_pred)
        gru = {"seed": seed, "device": device}
        # The references train on real windows of other subjects (the test set) where the
        # scores train on synthetic windows; both are judged against the training windows.
        for key, other in (("", synthetic.X), ("_reference", test.X)):
            scores[f"timegan_discriminative{key}"] = timegan_discriminative_score(
                train.X, other, iterations=n_disc, **gru
            )
            scores[f"timegan_predictive{key}"] = timegan_predictive_score(
                train.X, other, iterations=n_pred, **gru
            )
    heldout, floor = scores["heldout"], scores["heldout_floor"]
    out: dict[str, Any] = {
        "discriminative_score": heldout.mean,
        "discriminative_score_sd": heldout.sd,
        "discriminative_score_floor": None if floor is None else floor.mean,
        "discriminative_score_floor_sd": None if floor is None else floor.sd,
        # The older judge splits windows at random: kept so reports can be compared.
        "discriminative_score_random_split": fidelity.discriminative_score(
            train.X, synthetic.X, seed=seed, device=device
        ),
        "discriminative_score_random_split_reference": fidelity.discriminative_score(
            train.X, test.X, seed=seed, device=device
        ),
    }
    for key in ("discriminative", "predictive"):
        for ref in ("", "_reference"):
            score = scores[f"timegan_{key}{ref}"]
            out[f"timegan_{key}_score{ref}"] = None if score is None else score.mean
    out["judges"] = {k: None if v is None else v.to_dict() for k, v in scores.items()}
    return out


def _per_class_table(
    reports: dict[str, dict[str, Any]],
    per: dict[str, dict[str, Any]],
    names: list[str],
    train: WindowSet,
    test: WindowSet,
    synthetic: WindowSet,
) -> dict[str, dict[str, Any]]:
    counts = {key: ws.class_counts() for key, ws in (("train", train), ("test", test))}
    counts["synthetic"] = synthetic.class_counts()
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        row: dict[str, Any] = {f"n_{key}": counts[key][name] for key in counts}
        for key in ("trtr", "tstr", "trts"):
            row[f"{key}_sensitivity"] = reports[key]["sensitivity"][name]
            row[f"{key}_specificity"] = reports[key]["specificity"][name]
        for key, values in per.items():
            row[key] = values[name]
        table[name] = row
    return table


def _mean(values: Any) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None

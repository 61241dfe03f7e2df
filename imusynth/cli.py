"""The ``imusynth`` command line; the only module that prints.

Every subcommand shares ``--seed``, ``--device`` and ``-v/--verbose`` / ``-q/--quiet``.
A user error (bad file, bad value, ...) ends the command with exit code 2 and one line
naming the file and the field, without a traceback and without a partial output file.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from imusynth import __version__
from imusynth.errors import ConfigError, ImusynthError

EXIT_USER_ERROR = 2

log = logging.getLogger("imusynth")


# ---------------------------------------------------------------------------- helpers
def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    verbosity = g.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="only errors; no progress bars"
    )
    return common


def _out_path(value: str) -> Path:
    """An output file whose folder must already exist (checked before any work is done)."""
    path = Path(value)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
    return path


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _say(args: argparse.Namespace, text: str = "") -> None:
    if not args.quiet:
        print(text)


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line with exit code 2 (argparse's own code)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


# ---------------------------------------------------------------------------- data
def _cmd_data_info(args: argparse.Namespace) -> int:
    import numpy as np

    from imusynth.data import load_recordings, load_spec, load_windows

    spec = load_spec(args.spec)
    print(f"dataset     {spec.name}" + (f" - {spec.description}" if spec.description else ""))
    print(
        f"source      {spec.source.kind}" + (f" ({spec.source.path})" if spec.source.path else "")
    )
    if spec.source.kind == "hdf5":
        ws = load_windows(spec)
        print(f"windows     {len(ws)} of {ws.X.shape[-1]} samples")
        print(f"subjects    {len(np.unique(ws.groups))}")
        counts = ws.class_counts()
        rate = ws.sampling_rate_hz
    else:
        recs = load_recordings(spec)
        lengths = recs.lengths
        rate = recs.sampling_rate_hz
        print(f"recordings  {len(recs)} ({lengths.min()}-{lengths.max()} samples each)")
        print(f"subjects    {len(np.unique(recs.groups))}: {', '.join(_natural(recs.groups))}")
        print(f"duration    {lengths.sum() / rate / 60:.1f} min in total")
        counts = {c: int(np.sum(recs.y == i)) for i, c in enumerate(recs.classes)}
    print(f"rate        {rate:g} Hz" + (" (resampled)" if spec.windows.resample_hz else ""))
    print(f"placement   {spec.signal.placement or '-'}")
    print(
        "channels    "
        + ", ".join(
            f"{c} [{u}]" for c, u in zip(spec.signal.channels, spec.signal.units, strict=True)
        )
    )
    unit = "windows" if spec.source.kind == "hdf5" else "recordings"
    print(f"classes     ({unit})")
    for name, n in counts.items():
        print(f"  {name:<10} {n}")
    print(
        f"windowing   length {spec.windows.length}, stride {spec.windows.stride} samples, "
        f"short recordings: {spec.windows.short}"
    )
    return 0


def _natural(values) -> list[str]:
    uniq = sorted(set(map(str, values)), key=lambda s: (len(s), s))
    return uniq


def _cmd_data_windows(args: argparse.Namespace) -> int:
    import numpy as np

    from imusynth.data import (
        count_short,
        load_recordings,
        load_spec,
        load_windows,
        window_recordings,
        write_windows,
    )

    spec = load_spec(args.spec)
    length = args.length or spec.windows.length
    stride = args.stride or spec.windows.stride
    if spec.source.kind == "hdf5":
        ws = load_windows(spec, length=length)
    else:
        recs = load_recordings(spec)
        ws = window_recordings(recs, spec, length, stride)
        dropped = count_short(recs, length) if spec.windows.short == "drop" else 0
        if dropped:
            _say(args, f"dropped {dropped} recording(s) shorter than one window ({length} samples)")
    write_windows(args.out, ws, source=f"spec:{args.spec}")
    _say(
        args,
        f"wrote {len(ws)} windows of {ws.X.shape[1]} x {ws.X.shape[2]} "
        f"({len(np.unique(ws.groups))} subjects, {ws.n_classes} classes) to {args.out}",
    )
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="inspect and window datasets")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    info = dsub.add_parser(
        "info",
        parents=[_common()],
        help="summarise a dataset spec's data",
        description="Print recordings, subjects, classes with counts, channels with units, "
        "sampling rate and total duration of the data a spec describes.",
    )
    info.add_argument("spec", type=Path, help="dataset spec (TOML), e.g. data_specs/watch.toml")
    info.set_defaults(func=_cmd_data_info)
    win = dsub.add_parser(
        "windows",
        parents=[_common()],
        help="cut a dataset into windows and write HDF5",
        description="Window a spec's recordings (its default length/stride unless given) and "
        "write them in imusynth's HDF5 format.",
    )
    win.add_argument("spec", type=Path, help="dataset spec (TOML)")
    win.add_argument("--out", type=_out_path, required=True, help="output HDF5 file")
    win.add_argument("--length", type=_positive_int, help="window length in samples")
    win.add_argument("--stride", type=_positive_int, help="stride in samples")
    win.set_defaults(func=_cmd_data_windows)


# ---------------------------------------------------------------------------- GAN
def _out_dir(value: str) -> Path:
    """An output folder; its parent must exist (it is created itself)."""
    path = Path(value)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
    return path


def _cmd_train(args: argparse.Namespace) -> int:
    from imusynth.gan import load_training_windows, train_run
    from imusynth.train.config import config_to_toml, load_config

    config = load_config(args.config, args.set or ())
    windows = load_training_windows(config, args.data)
    run_dir = Path(args.out)
    if run_dir.exists() and any(run_dir.iterdir()) and not args.resume:
        raise ConfigError(
            "run folder exists and is not empty (use --resume to continue it)",
            path=run_dir,
            field="--out",
        )
    _say(
        args,
        f"training a {config.model.generator} cGAN on {len(windows)} windows "
        f"{windows.X.shape[1:]} of {windows.n_classes} classes for {config.train.steps} steps",
    )
    run = train_run(
        config, windows, run_dir, resume=args.resume, device=args.device, progress=_progress(args)
    )
    (run_dir / "config.toml").write_text(config_to_toml(config))
    _say(
        args,
        f"wrote run folder {run_dir} (checkpoint, config.toml, metrics.csv, figures) "
        f"after {run.step} steps",
    )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from imusynth.data import write_windows
    from imusynth.gan import load_run, sample_windows

    run = load_run(args.run, device=args.device)
    classes = None
    if args.classes:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    ws = sample_windows(run, args.per_class, classes, seed=args.seed)
    write_windows(args.out, ws, source=f"run:{args.run}")
    _say(
        args,
        f"wrote {len(ws)} synthetic windows ({args.per_class} per class: "
        f"{', '.join(c for c, n in ws.class_counts().items() if n)}) to {args.out}",
    )
    return 0


def _cmd_balance(args: argparse.Namespace) -> int:
    from imusynth.data import read_windows, write_windows
    from imusynth.gan import balance_windows, load_run

    ws = read_windows(args.windows)
    run = load_run(args.run, device=args.device)
    balanced = balance_windows(ws, run, seed=args.seed)
    write_windows(args.out, balanced, source=f"balance:{args.windows}+run:{args.run}")
    before, after = ws.class_counts(), balanced.class_counts()
    _say(
        args,
        f"wrote {len(balanced)} windows ({int(balanced.is_synthetic.sum())} synthetic) "
        f"to {args.out}",
    )
    for name in before:
        _say(args, f"  {name:<8} {before[name]:>5} -> {after[name]}")
    return 0


def _add_gan(sub) -> None:
    p = sub.add_parser(
        "train",
        parents=[_common()],
        help="train a conditional GAN",
        description="Train a conditional GAN on a spec's windows (or a windows file given "
        "with --data) and write a run folder: checkpoint, resolved config, metrics CSV and "
        "real-vs-synthetic figures. --resume continues a killed run.",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=_repo_file("experiments", "watch_cgan.toml"),
        help="GAN config (TOML; default: experiments/watch_cgan.toml)",
    )
    p.add_argument("--out", type=_out_dir, required=True, help="run folder")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. model.generator=kinematic (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--data", type=Path, help="train on this HDF5 windows file instead")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "sample",
        parents=[_common()],
        help="write synthetic windows from a trained run",
        description="Generate windows in physical units from a run folder and write them "
        "(is_synthetic true) in imusynth's HDF5 format.",
    )
    p.add_argument("run", type=Path, help="run folder written by imusynth train")
    p.add_argument("--per-class", type=_positive_int, required=True, help="windows per class")
    p.add_argument("--classes", help="comma-separated class names (default: all)")
    p.add_argument("--out", type=_out_path, required=True, help="output HDF5 file")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser(
        "balance",
        parents=[_common()],
        help="top every class up with synthetic windows",
        description="Top every class of a windows file up to the largest class's count with "
        "synthetic windows from a run; real rows are kept unchanged.",
    )
    p.add_argument("windows", type=Path, help="HDF5 windows file")
    p.add_argument("--run", type=Path, required=True, help="run folder written by imusynth train")
    p.add_argument("--out", type=_out_path, required=True, help="output HDF5 file")
    p.set_defaults(func=_cmd_balance)


def _repo_file(*parts: str) -> Path:
    return Path(__file__).resolve().parent.parent.joinpath(*parts)


# ---------------------------------------------------------------------------- evaluate
def _cmd_evaluate(args: argparse.Namespace) -> int:
    from imusynth.data import read_windows
    from imusynth.evaluate import evaluate

    train, test, synth = (read_windows(p) for p in (args.train, args.test, args.synthetic))
    out = Path(args.out)
    metrics = evaluate(
        train,
        test,
        synth,
        classifier=args.classifier,
        seed=args.seed,
        device=args.device,
        out_dir=out,
        progress=_progress(args),
        kinematic=args.kinematic,
    )
    keys = (
        "trtr_accuracy",
        "tstr_accuracy",
        "trts_accuracy",
        "discriminative_score",
        "frechet_distance",
        "mmd",
        "psd_distance",
    )
    for key in keys:
        value = metrics.get(key)
        _say(args, f"{key:<22} {value:.4f}" if isinstance(value, float) else f"{key:<22} {value}")
    _say(args, f"wrote {out / 'metrics.json'} and {len(metrics.get('figures', []))} figures")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[_common()],
        help="score synthetic windows against real ones",
        description="TRTR / TSTR / TRTS accuracy, discriminative score, Fréchet distance, MMD "
        "and PSD distance of a synthetic set, with figures. Refuses a test set that shares a "
        "subject with the train set.",
    )
    p.add_argument("--train", type=Path, required=True, help="real training windows (HDF5)")
    p.add_argument("--test", type=Path, required=True, help="real test windows (HDF5)")
    p.add_argument("--synthetic", type=Path, required=True, help="synthetic windows (HDF5)")
    p.add_argument("--out", type=_out_dir, required=True, help="report folder")
    p.add_argument(
        "--classifier",
        default="frid_adar",
        choices=("frid_adar", "resnet", "rf"),
        help="classifier for TRTR/TSTR/TRTS and the feature space (default frid_adar)",
    )
    p.add_argument(
        "--kinematic",
        action="store_true",
        help="also score kinematic plausibility by inverse kinematics (slow)",
    )
    p.set_defaults(func=_cmd_evaluate)


# ---------------------------------------------------------------------------- experiment
def _cmd_experiment(args: argparse.Namespace) -> int:
    from imusynth.runner import load_experiment, run_experiment, summarise

    cfg = load_experiment(args.config, quick=args.quick)
    out = Path(args.out)
    _say(
        args,
        f"experiment {cfg.name} ({cfg.kind}{', quick' if args.quick else ''}): "
        f"{cfg.n_splits} folds x {len(cfg.seeds)} seeds x {len(cfg.train_subjects)} sizes, "
        f"arms {', '.join(cfg.arms)}",
    )
    results = run_experiment(cfg, out, jobs=args.jobs, device=args.device, progress=_progress(args))
    summary = summarise(results, out)
    _say(args, f"wrote {results}, {summary} and figures in {out}")
    if not args.quiet:
        print(summary.read_text())
    return 0


def _add_experiment(sub) -> None:
    p = sub.add_parser(
        "experiment",
        parents=[_common()],
        help="run an augmentation or rebalancing grid",
        description="Run a grid of arms x training sizes x added samples x folds x seeds with "
        "subject-wise CV (GANs and augmenters fit in-fold only), write results.csv, "
        "summary.md and figures. An interrupted experiment resumes from the rows it has.",
    )
    p.add_argument(
        "config", type=Path, help="experiment config, e.g. experiments/watch_augmentation.toml"
    )
    p.add_argument("--out", type=_out_dir, required=True, help="results folder")
    p.add_argument("--jobs", type=_positive_int, default=1, help="parallel units (joblib)")
    p.add_argument("--quick", action="store_true", help="the config's small [quick] grid")
    p.set_defaults(func=_cmd_experiment)


# ---------------------------------------------------------------------------- demo
def _cmd_demo(args: argparse.Namespace) -> int:
    from imusynth.data import load_spec, load_windows, write_windows

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = load_spec(args.spec)
    ws = load_windows(spec)
    path = write_windows(out / "windows.h5", ws, source=f"spec:{args.spec}")
    _say(args, f"[1/1] windowed {spec.name}: {len(ws)} windows {ws.X.shape[1:]} -> {path}")
    for name, n in ws.class_counts().items():
        _say(args, f"      {name:<6} {n}")
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        parents=[_common()],
        help="run the main job on the embedded default data",
        description="Window the smartwatch data and write the results to --out.",
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--spec", default=str(_default_spec()), help="dataset spec")
    p.set_defaults(func=_cmd_demo)


def _default_spec() -> Path:
    return Path(__file__).resolve().parent.parent / "data_specs" / "watch.toml"


# ---------------------------------------------------------------------------- main
_COMMANDS: list[Callable] = [_add_data, _add_gan, _add_evaluate, _add_experiment, _add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imusynth",
        description="Conditional GANs of wearable inertial-sensor data, for augmenting and "
        "rebalancing exercise-classification datasets.",
    )
    parser.add_argument("--version", action="version", version=f"imusynth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
            raise ConfigError(
                f"unknown device {args.device!r} (use auto, cpu or cuda)", field="--device"
            )
        return int(args.func(args) or 0)
    except ImusynthError as exc:
        print(f"imusynth: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("imusynth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

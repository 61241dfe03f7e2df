"""``imusynth train``, ``imusynth sample`` and ``imusynth balance``: train a conditional
GAN into a run folder, and write synthetic windows from one."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from imusynth.cli.common import (
    _command,
    _out_dir,
    _out_option,
    _positive_int,
    _progress,
    _say,
    _write_out,
)
from imusynth.config import BUNDLED_DIR
from imusynth.errors import ConfigError

# Beside config.toml: the SHA-256 of the windows file a run trained on, as `sha256sum`
# writes it (`sha256sum -c data.sha256` checks the file has not changed since).
DATA_HASH_NAME = "data.sha256"

# Rows of one `sample` call: beyond this a typo (a billion per class) is refused up front.
MAX_PER_CLASS = 1_000_000


def _gan_config(path: Path, sets: Sequence[str] | None, seed: int | None = None):
    """The GAN config ``path`` with ``--set`` overrides (and ``--seed`` as ``train.seed``).

    An error in an override names the ``--set KEY=VALUE`` of the command line, not the file.
    """
    from imusynth.train.config import apply_overrides, load_config, validate_config

    config = load_config(path, (), validate=False)
    overrides = list(sets or ())
    blame: dict[str, str] = {}
    for item in overrides:
        try:
            config = apply_overrides(config, [item])
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (a command-line override)", field=f"--set {item}"
            ) from None
        blame[item.partition("=")[0].strip()] = f"--set {item}"
    if seed is not None:
        config = apply_overrides(config, [f"train.seed={seed}"])
        blame["train.seed"] = "--seed"
    try:
        validate_config(config)
    except ConfigError as exc:
        if exc.field in blame:
            raise ConfigError(
                f"{exc.message} (a command-line override)", field=blame[exc.field]
            ) from None
        raise ConfigError(exc.message, path=exc.path or path, field=exc.field) from None
    return config


def _cmd_train(args: argparse.Namespace) -> int:
    """train a conditional GAN

    Train a conditional GAN on a spec's windows (or a windows file given with --data) and write a
    run folder: checkpoint, resolved config, metrics CSV and real-vs-synthetic figures. --resume
    continues a killed run.
    """
    from imusynth.gan import load_training_windows, train_run
    from imusynth.runtime import init_distributed, shutdown_distributed
    from imusynth.train.config import config_to_toml

    # Under torchrun (WORLD_SIZE > 1) every process trains one shared GAN with DDP; rank 0
    # alone writes the run folder and prints.
    ctx = init_distributed(args.device)
    try:
        config = _gan_config(args.config, args.set, args.seed)
        windows = load_training_windows(config, args.data)
        run_dir = Path(args.out)
        if run_dir.exists() and any(run_dir.iterdir()) and not args.resume:
            raise ConfigError(
                "run folder exists and is not empty (use --resume to continue it)",
                path=run_dir,
                field="--out",
            )
        config, data_hash = _data_provenance(config, args.data)
        if args.resume and data_hash is not None:
            _check_same_data(run_dir, data_hash, "--data" if args.data else "data.windows")
        if ctx.active:
            import torch.distributed as dist

            dist.barrier()  # every process has checked the folder before rank 0 writes to it
        if ctx.is_main:
            procs = f" in {ctx.world_size} processes" if ctx.active else ""
            _say(
                args,
                f"training a {config.model.generator} cGAN on {len(windows)} windows "
                f"{windows.X.shape[1:]} of {windows.n_classes} classes for "
                f"{config.train.steps} steps{procs}",
            )
        run = train_run(
            config,
            windows,
            run_dir if ctx.is_main else None,
            resume=args.resume,
            device=args.device,
            progress=_progress(args) and ctx.is_main,
        )
        if ctx.is_main:
            (run_dir / "config.toml").write_text(config_to_toml(config))
            if data_hash is not None:
                (run_dir / DATA_HASH_NAME).write_text(f"{data_hash}  {config.data.windows}\n")
            chosen = getattr(run, "validation_subjects", ())
            done = (
                f"after {config.train.steps} steps; it samples step {run.step}, chosen on "
                f"validation subjects {', '.join(chosen)} (selection.csv, best.pt)"
                if chosen
                else f"after {run.step} steps"
            )
            _say(
                args,
                f"wrote run folder {run_dir} (checkpoint, config.toml, metrics.csv, figures) "
                + done,
            )
    finally:
        shutdown_distributed()
    return 0


def _data_provenance(config, data: Path | None):
    """``config`` naming the windows file it trains on, and that file's SHA-256.

    A windows file (``--data``, or the config's own ``data.windows``) replaces the spec, so
    the run's config names the file by its absolute path (a run folder is read from other
    working directories) and no spec, nor a spec's window length and stride, that it did
    not use. Trained from a spec: ``config`` as it is and no hash.
    """
    path = data or config.data.windows
    if not path:
        return config, None
    path = Path(path).resolve()
    section = dataclasses.replace(config.data, windows=str(path), spec="", length=None, stride=None)
    return dataclasses.replace(config, data=section), _sha256(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_same_data(run_dir: Path, data_hash: str, field: str) -> None:
    """Refuse to resume a run on windows other than those it was trained on."""
    recorded = run_dir / DATA_HASH_NAME
    if not recorded.is_file():
        return
    before, _, name = recorded.read_text(encoding="utf-8").strip().partition("  ")
    if before != data_hash:
        raise ConfigError(
            f"the run was trained on other windows ({name or 'unknown file'}, SHA-256 "
            f"{before[:12]}...); resume it with the same file",
            path=run_dir,
            field=field,
        )


def _cmd_sample(args: argparse.Namespace) -> int:
    """write synthetic windows from a trained run

    Generate windows in physical units from a run folder and write them (is_synthetic true) in
    imusynth's HDF5 format. The run is named with --run RUN, as in balance (a bare RUN is accepted
    too).
    """
    from imusynth.gan import load_run, sample_windows

    run_dir = _run_argument(args)
    classes = None
    if args.classes is not None:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
        if not classes:
            raise ConfigError(f"no class names in {args.classes!r}", field="--classes")
    run = load_run(run_dir, device=args.device)
    _check_sample_size(run, args.per_class, len(classes or run.classes), run_dir)
    ws = sample_windows(run, args.per_class, classes, seed=args.seed)
    made = ", ".join(c for c, n in ws.class_counts().items() if n)
    what = f"{len(ws)} synthetic windows ({args.per_class} per class: {made})"
    user_units = getattr(run, "source_units", None)
    if user_units and tuple(user_units) != tuple(ws.units):  # the units the data came in
        ws = ws.in_units(user_units)
        what += f" in {', '.join(dict.fromkeys(user_units))}"
    _write_out(args, ws, what, source=f"run:{run_dir}")
    return 0


def _run_argument(args: argparse.Namespace) -> Path:
    """The run folder of ``sample``: ``--run RUN`` (as in ``balance``) or, as before, ``RUN``."""
    given = [p for p in (args.run_opt, args.run) if p is not None]
    if not given:
        raise ConfigError("name the run folder with --run RUN", field="--run")
    if len(given) == 2 and given[0] != given[1]:
        raise ConfigError(
            f"two run folders given ({given[1]} and --run {given[0]}); give one", field="--run"
        )
    return given[0]


def _check_sample_size(run, per_class: int, n_classes: int, run_dir: Path) -> None:
    """Refuse, before generating, a sample that cannot fit in half of this machine's memory."""
    row = len(run.channels) * int(getattr(run, "length", 0) or 64 * 64)
    need = 4 * row * per_class * n_classes * 2  # float32, and a copy while writing
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    if need > memory // 2:
        raise ConfigError(
            f"{per_class} windows per class x {n_classes} classes need about "
            f"{need / 2**30:.1f} GiB, more than half of this machine's memory; ask for fewer",
            path=run_dir,
            field="--per-class",
        )


def _per_class(value: str) -> int:
    n = _positive_int(value)
    if n > MAX_PER_CLASS:
        raise argparse.ArgumentTypeError(f"at most {MAX_PER_CLASS} per call, got {n}")
    return n


def _cmd_balance(args: argparse.Namespace) -> int:
    """top every class up with synthetic windows

    Top every class of a windows file up to the largest class's count with synthetic windows from a
    run; real rows are kept unchanged.
    """
    from imusynth.data import read_windows
    from imusynth.gan import balance_windows, load_run

    ws = read_windows(args.windows)
    run = load_run(args.run, device=args.device)
    balanced = balance_windows(ws, run, seed=args.seed)
    what = f"{len(balanced)} windows ({int(balanced.is_synthetic.sum())} synthetic)"
    _write_out(args, balanced, what, source=f"balance:{args.windows}+run:{args.run}")
    before, after = ws.class_counts(), balanced.class_counts()
    for name in before:
        _say(args, f"  {name:<8} {before[name]:>5} -> {after[name]}")
    return 0


_RUN_HELP = "run folder written by imusynth train"


def _config_option(p: argparse.ArgumentParser) -> None:
    """``--config``: the GAN config, by default the one imusynth ships."""
    p.add_argument(
        "--config",
        type=Path,
        default=BUNDLED_DIR / "watch_cgan.toml",
        help="GAN config (TOML), or one bundled with imusynth by name: watch_cgan.toml "
        "(the default) or ct_dcgan.toml",
    )


def _set_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--set KEY=VALUE`` (repeatable): overrides of the GAN config (see :func:`_gan_config`)."""
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=what)


def _add_gan(sub) -> None:
    p = _command(
        sub,
        "train",
        _cmd_train,
        seed_help="random seed; sets train.seed (default: the config's train.seed)",
        seed=None,
    )
    _config_option(p)
    _out_option(p, _out_dir, "run folder")
    _set_option(p, "override a config value, e.g. model.generator=kinematic (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--data", type=Path, help="train on this HDF5 windows file instead")

    p = _command(sub, "sample", _cmd_sample)
    p.add_argument("run", type=Path, nargs="?", help=f"{_RUN_HELP} (or --run)")
    p.add_argument("--run", dest="run_opt", type=Path, metavar="RUN", help=_RUN_HELP)
    p.add_argument(
        "--per-class",
        type=_per_class,
        required=True,
        help=f"windows per class (at most {MAX_PER_CLASS})",
    )
    p.add_argument("--classes", help="comma-separated class names (default: all classes)")
    _out_option(p)

    p = _command(sub, "balance", _cmd_balance)
    p.add_argument("windows", type=Path, help="HDF5 windows file")
    p.add_argument("--run", type=Path, required=True, metavar="RUN", help=_RUN_HELP)
    _out_option(p)

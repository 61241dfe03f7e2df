"""``imusynth demo``: window the embedded watch data, train the default conditional GAN and balance
the classes, into a folder that is never one of anything else."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from imusynth.cli.common import _command, _new_out_dir, _progress, _say
from imusynth.cli.gan import _config_option, _gan_config, _set_option
from imusynth.config import BUNDLED_DIR
from imusynth.errors import ConfigError, ImusynthError

DEMO_MARK = ".imusynth-demo"  # in a demo folder: {"state": "running" | "done"}


def _demo_state(folder: Path) -> str | None:
    """``"running"`` or ``"done"`` for a folder the demo wrote, ``None`` for any other."""
    try:
        return str(json.loads((folder / DEMO_MARK).read_text(encoding="utf-8"))["state"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _demo_folder(out: Path) -> Path:
    """Where this demo writes: ``out`` when it is new, empty or an unfinished demo; next to a
    finished demo, a fresh ``out-2``, ``out-3``, ...; never into a folder of anything else."""
    candidates = [out] + [out.with_name(f"{out.name}-{k}") for k in range(2, 1000)]
    for folder in candidates:
        if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
            return folder
        state = _demo_state(folder)
        if state is None and folder == out:
            raise ConfigError(
                "folder is not empty and was not written by imusynth demo; nothing was "
                "changed (choose a new folder)",
                path=out,
                field="--out",
            )
        if state == "running":
            return folder  # an unfinished demo of ours: its files are rewritten
    raise ConfigError("too many earlier demos here; remove some", path=out, field="--out")


def _set_demo_state(folder: Path, state: str) -> None:
    (folder / DEMO_MARK).write_text(json.dumps({"state": state}) + "\n", encoding="utf-8")


def _cmd_demo(args: argparse.Namespace) -> int:
    """run the main job on the embedded default data

    Window the smartwatch data, train the default conditional GAN on it (watch_cgan.toml: 3600
    steps, near an hour on one CPU core; --set train.steps=20 for a short try), write a
    class-balanced windows file and a figure of real vs synthetic windows per exercise. The
    output folder and its parents are created; a folder holding anything but an earlier demo is
    refused, a finished demo is kept (this one goes to OUT-2, ...).
    """
    import time

    from imusynth.data import load_spec, load_windows, write_windows
    from imusynth.gan import balance_windows, train_run
    from imusynth.train.config import config_to_toml

    start = time.perf_counter()
    # Every input is checked before the folder is touched.
    spec = load_spec(args.spec)
    config = _gan_config(args.config, args.set, args.seed)
    out = _demo_folder(Path(args.out))
    if out != Path(args.out):
        _say(args, f"{args.out} holds an earlier demo (kept); this one goes to {out}")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # the run of an unfinished demo of ours (see _demo_folder)
    _set_demo_state(out, "running")
    try:
        ws = load_windows(spec)
    except ImusynthError:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    path = write_windows(out / "windows.h5", ws, source=f"spec:{args.spec}")
    _say(
        args,
        f"[1/3] windowed {spec.name}: {len(ws)} windows of {ws.X.shape[1]} channels x "
        f"{ws.X.shape[2]} samples from {len(np.unique(ws.groups))} subjects -> {path}",
    )
    _say(
        args,
        f"[2/3] training a {config.model.generator} conditional GAN for "
        f"{config.train.steps} steps on {args.device} ...",
    )
    run = train_run(config, ws, run_dir, device=args.device, progress=_progress(args))
    (run_dir / "config.toml").write_text(config_to_toml(config))
    figures = sorted(p.name for p in run_dir.glob("*.png"))
    _say(
        args,
        f"      run folder {run_dir}: checkpoint, config.toml, metrics.csv, "
        f"{', '.join(figures) or 'no figures'}",
    )

    balanced = balance_windows(ws, run, seed=args.seed)
    bpath = write_windows(out / "balanced.h5", balanced, source=f"demo:{run_dir}")
    _set_demo_state(out, "done")
    _say(
        args,
        f"[3/3] balanced every exercise to {max(balanced.class_counts().values())} "
        f"windows with {int(balanced.is_synthetic.sum())} synthetic ones -> {bpath}",
    )
    before = ws.class_counts()
    for name, n in balanced.class_counts().items():
        _say(args, f"      {name:<6} {before[name]:>4} real + {n - before[name]:>3} synthetic")
    _say(
        args,
        f"done in {time.perf_counter() - start:.0f} s. Look at "
        f"{run_dir / 'real_vs_synthetic.png'} for real vs synthetic windows"
        + (
            " and selection.png for how the checkpoint was chosen."
            if "selection.png" in figures
            else "."
        ),
    )
    return 0


def _add_demo(sub) -> None:
    p = _command(sub, "demo", _cmd_demo)
    p.add_argument("--out", default="runs/demo", type=_new_out_dir, help="output folder")
    p.add_argument(
        "--spec",
        default=str(BUNDLED_DIR / "watch.toml"),
        help="dataset spec (TOML), or one bundled with imusynth by name: watch.toml (the "
        "default: Burns et al. smartwatch data) or liver_phantoms.toml",
    )
    _config_option(p)
    _set_option(p, "override a GAN config value, e.g. train.steps=300 (repeatable)")

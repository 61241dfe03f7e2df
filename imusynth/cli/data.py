"""``imusynth data info``, ``imusynth data windows`` and ``imusynth data split``: inspect,
window and split datasets."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from imusynth.cli.common import (
    _command,
    _command_group,
    _out_option,
    _out_path,
    _positive_int,
    _say,
    _write_out,
)
from imusynth.data.units import is_acceleration
from imusynth.errors import ConfigError, DataError

# The library's parameter names as the command line spells them, for one-line errors.
_SPLIT_FIELDS = {
    "n_test": "--test-subjects",
    "fraction": "--test-fraction",
    "test_groups": "--test-groups",
}


def _cmd_data_info(args: argparse.Namespace) -> int:
    """summarise a dataset spec's data

    Print recordings, subjects, classes with counts, channels with units, sampling rate and total
    duration of the data a spec describes.
    """
    from imusynth.data import load_recordings, load_spec, load_windows

    spec = load_spec(args.spec)
    print(f"dataset     {spec.name}" + (f" - {spec.description}" if spec.description else ""))
    print(
        f"source      {spec.source.kind}" + (f" ({spec.source.path})" if spec.source.path else "")
    )
    if spec.is_image:
        return _image_info(load_windows(spec))
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
    if any(is_acceleration(u) for u in spec.signal.units):
        print(
            "gravity     "
            + (
                "included (specific force)"
                if spec.signal.gravity
                else "removed (linear acceleration)"
            )
        )
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


def _image_info(ims) -> int:
    import numpy as np

    print(f"images      {len(ims)} of {ims.X.shape[2]} x {ims.X.shape[3]} pixels")
    print(f"patients    {len(np.unique(ims.groups))}")
    print(f"channels    {ims.channels[0]} [{ims.units[0]}], values in [-1, 1]")
    print("classes     (images)")
    for name, n in ims.class_counts().items():
        print(f"  {name:<10} {n}")
    return 0


def _natural(values) -> list[str]:
    uniq = sorted(set(map(str, values)), key=lambda s: (len(s), s))
    return uniq


def _cmd_data_windows(args: argparse.Namespace) -> int:
    """cut a dataset into windows and write HDF5

    Window a spec's recordings (its default length/stride unless given) and write them in imusynth's
    HDF5 format.
    """
    from imusynth.data import (
        count_short,
        load_recordings,
        load_spec,
        load_windows,
        window_recordings,
    )

    spec = load_spec(args.spec)
    if spec.is_image:  # ROIs are written as they are: (N, 1, H, W), nothing to cut
        ims = load_windows(spec)
        what = f"{len(ims)} images {ims.X.shape[1:]} ({ims.n_classes} classes)"
        _write_out(args, ims, what, source=f"spec:{args.spec}")
        return 0
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
    what = (
        f"{len(ws)} windows of {ws.X.shape[1]} x {ws.X.shape[2]} "
        f"({len(np.unique(ws.groups))} subjects, {ws.n_classes} classes)"
    )
    _write_out(args, ws, what, source=f"spec:{args.spec}")
    return 0


def _cmd_data_split(args: argparse.Namespace) -> int:
    """split a windows file into subject-disjoint train and test files

    Write the windows of some subjects to --test and the rest to --train, no subject on both sides,
    every class recorded on both sides (an error names a class that cannot be). Test subjects are
    drawn with --seed, or named with --test-groups.
    """
    from imusynth.data import atomic_path, read_windows, write_windows
    from imusynth.data.splits import split_by_subject

    src, train_out, test_out = (Path(p).resolve() for p in (args.windows, args.train, args.test))
    if train_out == test_out:
        raise ConfigError("--train and --test name the same file", path=args.test, field="--test")
    for out, opt in ((train_out, "--train"), (test_out, "--test")):
        if out == src:
            raise ConfigError("would overwrite the input windows file", path=out, field=opt)
    ws = read_windows(args.windows)
    groups = None
    if args.test_groups is not None:
        groups = [g.strip() for g in args.test_groups.split(",") if g.strip()]
    try:
        train, test = split_by_subject(
            ws,
            n_test=args.test_subjects,
            fraction=args.test_fraction,
            test_groups=groups,
            seed=args.seed,
        )
    except DataError as exc:
        field = _SPLIT_FIELDS.get(exc.field or "", exc.field)
        raise DataError(exc.message, path=args.windows, field=field) from None
    source = f"split:{args.windows} seed={args.seed}"
    # Both temporaries are written before either is renamed into place: an error leaves
    # neither file, never a training file without its test file.
    with (
        atomic_path(args.train, field="--train") as tr,
        atomic_path(args.test, field="--test") as te,
    ):
        write_windows(tr, train, source=source)
        write_windows(te, test, source=source)
    for name, part, out in (("train", train, args.train), ("test", test, args.test)):
        subjects = _natural(part.groups)
        _say(args, f"{name:<5} {len(part)} windows, {len(subjects)} subjects -> {out}")
        _say(args, f"  subjects  {', '.join(subjects)}")
        counts = ", ".join(f"{c} {n}" for c, n in part.class_counts().items())
        _say(args, f"  classes   {counts}")
    return 0


def _add_data(sub) -> None:
    dsub = _command_group(sub, "data", "inspect and window datasets")
    info = _command(dsub, "info", _cmd_data_info)
    info.add_argument(
        "spec", type=Path, help="dataset spec (TOML), or a bundled one by name, e.g. watch.toml"
    )
    win = _command(dsub, "windows", _cmd_data_windows)
    win.add_argument(
        "spec", type=Path, help="dataset spec (TOML), or a bundled one by name, e.g. watch.toml"
    )
    _out_option(win)
    win.add_argument("--length", type=_positive_int, help="window length in samples")
    win.add_argument("--stride", type=_positive_int, help="stride in samples")
    split = _command(dsub, "split", _cmd_data_split, seed_help="seed of the draw of test subjects")
    split.add_argument("windows", type=Path, help="HDF5 windows file (from data windows)")
    split.add_argument("--train", type=_out_path, required=True, help="output training file")
    split.add_argument("--test", type=_out_path, required=True, help="output test file")
    how = split.add_mutually_exclusive_group(required=True)
    how.add_argument("--test-subjects", type=_positive_int, metavar="N", help="N test subjects")
    how.add_argument(
        "--test-fraction",
        type=_fraction,
        metavar="F",
        help="this share of the subjects (0 < F < 1, rounded; at least one on each side)",
    )
    how.add_argument("--test-groups", metavar="S1,S2", help="the test subjects, named")


def _fraction(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0.0 < f < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return f

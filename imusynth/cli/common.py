"""What every command shares: the common options, the parser that reports errors on one
line, the builders of a command (:func:`_command`, :func:`_command_group`, its ``--out``),
output-path checks made when the command line is parsed, and the error handling that turns a
user error into one line and exit code 2."""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imusynth.errors import ConfigError, ImusynthError

EXIT_USER_ERROR = 2

log = logging.getLogger("imusynth")


def _common(seed_help: str = "random seed") -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--seed", type=int, default=0, help=seed_help)
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    verbosity = g.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="only errors; no progress bars"
    )
    return common


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default in its help (``%(default)s``), except for flags and
    options without one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" not in text
            and default is not None
            and default is not False
            and default is not argparse.SUPPRESS
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def _writable_dir(folder: Path) -> None:
    """``folder`` is an existing folder this process may create files in."""
    if not folder.exists():
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} is not writable")


def check_output(path: str | Path, *, folder: bool = False, parents: bool = False) -> Path:
    """Check an output path before any work is done; return it as a Path.

    One check for every command's ``--out``: a file's folder (or a folder's parent) exists
    and is writable, a file path is not a folder and a folder path is not a file.
    ``parents`` lets missing parent folders be created later (the nearest existing one must
    be a writable folder). Raises :class:`argparse.ArgumentTypeError`, which argparse
    reports on one line naming the option, with exit code 2.
    """
    path = Path(path)
    if str(path).strip() == "":
        raise argparse.ArgumentTypeError("empty path")
    if folder:
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{str(path)!r} is a file, not a folder")
        if path.is_dir():
            _writable_dir(path)
            return path
    elif path.is_dir():
        raise argparse.ArgumentTypeError(f"{str(path)!r} is a folder, not a file")
    elif path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"file {str(path)!r} is not writable")
    parent = path.parent
    if parents:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    _writable_dir(parent)
    return path


def _out_path(value: str) -> Path:
    """An output file whose folder must already exist (checked before any work is done)."""
    return check_output(value)


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
    """argparse that reports errors on one line with exit code 2 (argparse's own code) and
    shows every option's default in ``--help``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def _out_dir(value: str) -> Path:
    """An output folder; its parent must exist (it is created itself)."""
    return check_output(value, folder=True)


def _new_out_dir(value: str) -> Path:
    """An output folder; missing parent folders are created too (the demo's first run)."""
    return check_output(value, folder=True, parents=True)


def _command(
    sub: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    seed_help: str = "random seed",
    **defaults: Any,
) -> argparse.ArgumentParser:
    """Add command ``name`` with the common options, bound to ``func`` (``args.func``).

    ``func``'s docstring is the command's help: its first line is the command's line in the
    parent's ``--help``, the rest its description (re-flowed, as argparse shows it; under
    ``python -OO``, which drops docstrings, commands have no help text). ``defaults`` go to
    ``set_defaults``.
    """
    summary, _, description = inspect.cleandoc(func.__doc__ or "").partition("\n")
    p = sub.add_parser(
        name,
        parents=[_common(seed_help)],
        help=summary or None,
        description=" ".join(description.split()) or None,
    )
    p.set_defaults(func=func, **defaults)
    return p


def _command_group(sub: Any, name: str, summary: str) -> Any:
    """Add the group ``imusynth NAME COMMAND``; returns the subparsers of its commands."""
    p = sub.add_parser(name, help=summary)
    return p.add_subparsers(dest=f"{name}_command", required=True, parser_class=_Parser)


def _out_option(
    p: argparse.ArgumentParser,
    check: Callable[[str], Path] = _out_path,
    what: str = "output HDF5 file",
) -> None:
    """The required ``--out`` of a command, checked by ``check`` when it is parsed."""
    p.add_argument("--out", type=check, required=True, help=what)


def _write_out(
    args: argparse.Namespace,
    data: Any,
    what: str,
    *,
    source: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``data`` (windows or images) to the command's ``--out`` in imusynth's HDF5
    format, then say ``wrote WHAT to OUT``."""
    from imusynth.data import write_windows

    write_windows(args.out, data, source=source, extra=extra)
    _say(args, f"wrote {what} to {args.out}")


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command ``args.func``; a user error becomes one line and exit code 2."""
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from tqdm.contrib.logging import logging_redirect_tqdm

    from imusynth.runtime import apply_thread_policy

    apply_thread_policy()  # one torch thread on <= 2 cores unless OMP_NUM_THREADS is set
    try:
        if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
            raise ConfigError(
                f"unknown device {args.device!r} (use auto, cpu or cuda)", field="--device"
            )
        # Log lines go through tqdm.write, above a progress bar instead of through it.
        with logging_redirect_tqdm():
            return int(args.func(args) or 0)
    except ImusynthError as exc:
        print(f"imusynth: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a file system refusal (permissions, disk full): one line, no trace
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"imusynth: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("imusynth: interrupted", file=sys.stderr)
        return 130

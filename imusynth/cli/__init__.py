"""The ``imusynth`` command line; the only module that prints.

Every subcommand shares ``--seed``, ``--device`` and ``-v/--verbose`` / ``-q/--quiet``.
A user error (bad file, bad value, ...) ends the command with exit code 2 and one line
naming the file and the field, without a traceback and without a partial output file.
Output paths are checked when the command line is parsed, before any work is done.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from imusynth import __version__
from imusynth.cli.common import EXIT_USER_ERROR, _Parser, check_output, run_command
from imusynth.cli.data import _add_data
from imusynth.cli.demo import DEMO_MARK, _add_demo
from imusynth.cli.evaluate import _add_evaluate
from imusynth.cli.experiment import _add_experiment
from imusynth.cli.gan import MAX_PER_CLASS, _add_gan
from imusynth.cli.kinematics import _add_kinematics
from imusynth.cli.turing import _add_turing

__all__ = ["DEMO_MARK", "EXIT_USER_ERROR", "MAX_PER_CLASS", "build_parser", "check_output", "main"]

# One module per command group; the order is the order of ``imusynth --help``.
_COMMANDS: list[Callable] = [
    _add_data,
    _add_kinematics,
    _add_gan,
    _add_evaluate,
    _add_experiment,
    _add_turing,
    _add_demo,
]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, each bound to its function (``args.func``)."""
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
    """Run ``imusynth ARGV``; returns the exit code (0, 2 for a user error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

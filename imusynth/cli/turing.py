"""``imusynth turing make`` and ``imusynth turing score``: the visual Turing test."""

from __future__ import annotations

import argparse
from pathlib import Path

from imusynth.cli.common import _command, _command_group, _out_dir, _out_option, _positive_int, _say


def _cmd_turing_make(args: argparse.Namespace) -> int:
    """write a blinded sheet and its answer key

    Write SHEET_DIR/sheet.html, a self-contained page showing N shuffled items (half real, half
    synthetic; images, or IMU windows as plots) with answer fields real/synthetic and class and a
    button that exports the answers as CSV, and SHEET_DIR/answer_key.csv. Hand out the page only.
    """
    from imusynth.data import read_windows
    from imusynth.evaluation.turing import KEY_NAME, make_sheet

    real, synthetic = read_windows(args.real), read_windows(args.synthetic)
    page = make_sheet(real, synthetic, args.n, args.out, seed=args.seed)
    kind = "images" if real.X.ndim == 4 else "windows"
    _say(args, f"wrote {page} ({args.n} {kind}, half real, shuffled) for the readers")
    _say(args, f"wrote {Path(args.out) / KEY_NAME}: the answer key, keep it from the readers")
    return 0


def _cmd_turing_score(args: argparse.Namespace) -> int:
    """score exported answers against the key

    Real-vs-synthetic accuracy and class accuracy on real and on synthetic items, one row per
    answers file (the layout of Frid-Adar et al. 2018, Table III).
    """
    from imusynth.evaluation.turing import score_answers, turing_table

    scores = [score_answers(args.sheet, path) for path in args.answers]
    print(turing_table(scores))
    return 0


def _add_turing(sub) -> None:
    tsub = _command_group(sub, "turing", "visual Turing test of real vs synthetic samples")
    make = _command(tsub, "make", _cmd_turing_make)
    make.add_argument("--real", type=Path, required=True, help="real samples (HDF5)")
    make.add_argument("--synthetic", type=Path, required=True, help="synthetic samples (HDF5)")
    make.add_argument("--n", type=_positive_int, default=60, help="items on the sheet")
    _out_option(make, _out_dir, "sheet folder")
    score = _command(tsub, "score", _cmd_turing_score)
    score.add_argument("sheet", type=Path, help="sheet folder written by turing make")
    score.add_argument("answers", type=Path, nargs="+", help="answers CSV exported by the page")

"""Fidelity figures over training seeds, and configurations compared seed by seed.

`gan_fidelity_watch.py --train-seeds S --out REPORT.md` writes REPORT.json beside its report:
one record per run (judges, extreme windows, TSTR/TRTR, TRTS). Runs of one configuration made
by separate processes (one seed each, side by side) are gathered here:

    python benchmarks/fidelity_seeds.py --arm default=runs/def_seed*.json \
        --arm repeat=runs/h4r_seed*.json --out runs/seeds.md

Each arm's figures are given as mean ± sd over its seeds; every arm after the first is
compared with the first on the seeds both ran (same ``train.seed``, so the same validation
subjects and data order): the mean paired difference, its sd, and a two-sided paired t-test.
With a handful of seeds read the p-value as a rough guide; the spread is the message.
"""

from __future__ import annotations

import argparse
import glob
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from scipy import stats

# Lower is better for these; higher for the rest.
LOWER_IS_BETTER = ("judge forest", "judge CNN", "extreme windows")
NOT_FIGURES = ("generator", "train_seed", "step")


def load_arm(spec: str) -> tuple[str, list[dict]]:
    """``NAME=GLOB[,GLOB...]`` -> the name and its runs' records, sorted by training seed."""
    name, sep, patterns = spec.partition("=")
    if not sep or not name or not patterns:
        raise SystemExit(f"--arm {spec!r}: expected NAME=FILE.json (globs and commas allowed)")
    files = sorted({f for p in patterns.split(",") for f in glob.glob(p)})
    if not files:
        raise SystemExit(f"--arm {spec!r}: no file matches {patterns!r}")
    records = [r for f in files for r in json.loads(Path(f).read_text(encoding="utf-8"))]
    seeds = [r["train_seed"] for r in records]
    if None in seeds or len(set(seeds)) != len(seeds):
        raise SystemExit(f"--arm {name}: each run needs its own train_seed, got {seeds}")
    return name, sorted(records, key=lambda r: r["train_seed"])


def mean_sd(values: np.ndarray) -> str:
    sd = f" ± {values.std(ddof=1):.2f}" if len(values) > 1 else ""
    return f"{values.mean():.2f}{sd}"


def tables(arms: dict[str, list[dict]]) -> str:
    first_name, first = next(iter(arms.items()))
    keys = [k for k in first[0] if k not in NOT_FIGURES]
    lines = [
        "| arm | seeds (steps chosen) | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for name, records in arms.items():
        seeds = ", ".join(f"{r['train_seed']} ({r['step']})" for r in records)
        cells = [mean_sd(np.array([r[k] for r in records])) for k in keys]
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± sd (n - 1) over training seeds, one run each.", ""]
    base = {r["train_seed"]: r for r in first}
    for name, records in list(arms.items())[1:]:
        pairs = [(base[r["train_seed"]], r) for r in records if r["train_seed"] in base]
        if len(pairs) < 2:
            lines += [f"{name} shares fewer than two seeds with {first_name}: not compared.", ""]
            continue
        lines += [
            f"{name} minus {first_name}, paired over seeds "
            f"{', '.join(str(b['train_seed']) for b, _ in pairs)}:",
            "",
            "| figure | better when | mean difference ± sd | seeds better | paired t-test p |",
            "|---|---|---|---|---|",
        ]
        for key in keys:
            diff = np.array([r[key] - b[key] for b, r in pairs])
            lower = key in LOWER_IS_BETTER
            better = int(np.sum(diff < 0 if lower else diff > 0))
            p = stats.ttest_1samp(diff, 0.0).pvalue if np.ptp(diff) > 0 else float("nan")
            lines.append(
                f"| {key} | {'lower' if lower else 'higher'} | {diff.mean():+.2f} ± "
                f"{diff.std(ddof=1):.2f} | {better} of {len(diff)} | {p:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--arm",
        action="append",
        required=True,
        metavar="NAME=GLOB",
        help="a configuration's JSON files from gan_fidelity_watch.py (the first is the base)",
    )
    parser.add_argument("--out", type=Path, help="also write the tables here (markdown)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    arms = dict(load_arm(spec) for spec in args.arm)
    if len(arms) != len(args.arm):
        raise SystemExit("--arm: each arm needs its own name")
    text = tables(arms)
    print(text)
    if args.out is not None:
        cmd = " ".join(["python", "benchmarks/fidelity_seeds.py", *map(shlex.quote, argv)])
        args.out.write_text(f"Reproduce: `{cmd}`\n\n{text}", encoding="utf-8")


if __name__ == "__main__":
    main()

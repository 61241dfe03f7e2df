"""The over-seeds summary of fidelity runs (benchmarks/fidelity_seeds.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import load_benchmark

fidelity_seeds = load_benchmark("fidelity_seeds")


def record(seed, judge, cnn):
    return {"generator": "kinematic", "train_seed": seed, "step": 1800,
            "judge forest": judge, "CNN TSTR/TRTR": cnn}  # fmt: skip


def write(path: Path, records) -> str:
    path.write_text(json.dumps(records))
    return str(path)


def test_arms_are_summarised_and_compared_seed_by_seed(tmp_path, capsys):
    for s, j, c in ((0, 0.30, 0.60), (1, 0.40, 0.62), (2, 0.20, 0.64)):
        write(tmp_path / f"a{s}.json", [record(s, j, c)])
    write(tmp_path / "b.json", [record(0, 0.20, 0.70), record(1, 0.42, 0.76), record(3, 0.0, 1.0)])
    out = tmp_path / "seeds.md"
    fidelity_seeds.main(
        ["--arm", f"base={tmp_path / 'a*.json'}", "--arm", f"new={tmp_path / 'b.json'}",
         "--out", str(out)]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert "| base | 0 (1800), 1 (1800), 2 (1800) | 0.30 ± 0.10 | 0.62 ± 0.02 |" in text
    # seed 3 has no partner: the pairs are seeds 0 and 1; the judge is lower (better) once
    assert "new minus base, paired over seeds 0, 1:" in text
    assert "| judge forest | lower | -0.04 ± 0.08 | 1 of 2 |" in text
    assert "| CNN TSTR/TRTR | higher | +0.12 ± 0.03 | 2 of 2 |" in text
    assert out.read_text().startswith("Reproduce: `python benchmarks/fidelity_seeds.py --arm")


def test_an_arm_with_a_seed_twice_or_no_file_is_refused(tmp_path):
    twice = write(tmp_path / "t.json", [record(0, 0.3, 0.6), record(0, 0.3, 0.6)])
    with pytest.raises(SystemExit, match="its own train_seed"):
        fidelity_seeds.main(["--arm", f"x={twice}"])
    with pytest.raises(SystemExit, match="no file matches"):
        fidelity_seeds.main(["--arm", f"x={tmp_path / 'none*.json'}"])
    with pytest.raises(SystemExit, match="NAME=FILE"):
        fidelity_seeds.main(["--arm", "nothing"])

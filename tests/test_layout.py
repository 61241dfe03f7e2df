"""The package's shape, as the README's Layout section draws it: floors that import only
downwards (lazy imports inside functions count too), and modules of a readable size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "imusynth"

# Each top-level module or folder of imusynth and its floor: a module may import from its own
# floor or below. augment and train share a floor and do not import each other.
FLOORS = {
    "errors": 0,
    "_alias": 0,
    "runtime": 1,
    "config_values": 1,
    "locks": 1,
    "config": 2,
    "data": 3,
    "kinematics": 4,
    "models": 5,
    "train": 6,
    "augment": 6,
    "metrics": 7,
    "plots": 8,
    "gan": 9,
    "evaluation": 10,
    "experiments": 10,
    "cli": 11,
}
# Above every floor: the package's own namespace and entry point, and deprecated module
# paths that re-export their new homes for one release (README, Layout).
TOP = {"__init__", "__main__", "runner", "gan2d", "evaluate", "turing"}
SAME_FLOOR_APART = {("train", "augment"), ("augment", "train"), ("evaluation", "experiments")}
MAX_LINES = 600


def _room(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_rooms(path: Path) -> set[str]:
    """The top-level rooms of imusynth that ``path`` imports, anywhere in the file."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        rooms |= {n.split(".")[1] for n in names if n.startswith("imusynth.")}
    return rooms


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_room_of_the_package_has_a_floor():
    rooms = {_room(p) for p in _modules()}
    assert rooms - TOP == set(FLOORS), "a new room needs a floor in FLOORS and the README"


def test_imports_point_down_the_floors():
    upward = []
    for path in _modules():
        room = _room(path)
        if room in TOP:
            continue
        for target in _imported_rooms(path) - {room}:
            if target in TOP or FLOORS[target] > FLOORS[room]:
                upward.append(f"{path.relative_to(PACKAGE)} imports imusynth.{target}")
            elif (room, target) in SAME_FLOOR_APART:
                upward.append(f"{path.relative_to(PACKAGE)} imports imusynth.{target}")
    assert not upward


def test_the_floor_check_sees_an_upward_import(tmp_path):
    # The check itself: a models file that imports the trainer is caught, lazily or not.
    bad = tmp_path / "m.py"
    bad.write_text(
        "def f():\n    from imusynth.train.loop import fit_gan\n    import imusynth.gan\n"
    )
    assert _imported_rooms(bad) == {"train", "gan"}


def test_no_module_is_longer_than_600_lines():
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    long = {str(p.relative_to(PACKAGE)): n for p, n in sizes.items() if n > MAX_LINES}
    assert not long, "split them by concern"


def test_the_model_and_data_floors_load_without_the_trainer():
    code = (
        "import sys, imusynth.models, imusynth.kinematics, imusynth.augment, imusynth.data\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('imusynth.')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out.strip()))
    assert loaded <= {"errors", "runtime", "config", "config_values", "data", "kinematics",
                      "models", "augment", "_alias"}  # fmt: skip

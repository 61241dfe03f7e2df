"""Every ```python block of README.md runs as written, each on its own (no snippet may lean on
an earlier one), from an empty temporary folder, as after ``pip install imusynth``: the
bundled configs are found by name, and what a snippet writes (``runs/...``) lands there."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT

FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _snippets() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_readme_has_python_snippets():
    assert len(_snippets()) >= 3


@pytest.mark.parametrize(
    ("line", "code"), _snippets(), ids=lambda v: f"line{v}" if isinstance(v, int) else ""
)
def test_snippet_runs_as_written(line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no repository here: bundled configs are found by name
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)

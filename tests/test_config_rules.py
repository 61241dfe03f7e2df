"""The config mechanism's rules: required keys, optional sections, choices, keys used only
with some values of another key, keys kept in a table of their own, and fields not in TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imusynth.config import apply_overrides, field_rules, from_dict, to_toml
from imusynth.errors import ConfigError

KINDS = ("file", "demo")


@dataclass(frozen=True)
class Source:
    kind: str = field(metadata=field_rules(choices=KINDS))
    path: str | None = field(
        default=None, metadata=field_rules(used_with=("kind", ("file",)), required=True)
    )
    seed: int = field(default=0, metadata=field_rules(used_with=("kind", ("demo",))))


@dataclass(frozen=True)
class Window:
    length: int = 8


@dataclass(frozen=True)
class Study:
    name: str
    source: Source
    classes: tuple[str, ...] = field(metadata=field_rules(toml="labels.classes"))
    window: Window | None = field(
        default=None, metadata=field_rules(used_with=("source.kind", ("file",)), required=True)
    )
    origin: Path | None = field(default=None, metadata=field_rules(toml=None))
    note: str = field(default="", metadata=field_rules(toml="comment"))


GOOD = {
    "name": "s",
    "comment": "hello",
    "source": {"kind": "file", "path": "a.csv"},
    "labels": {"classes": ["A", "B"]},
    "window": {"length": 4},
}


def _with(**changes) -> dict:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in GOOD.items()}
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            if value is None:
                data[section].pop(sub)
            else:
                data[section][sub] = value
        elif value is None:
            data.pop(section)
        else:
            data[section] = value
    return data


def test_reads_a_table_kept_apart_and_an_optional_section():
    study = from_dict(Study, GOOD)
    assert study.classes == ("A", "B") and study.window == Window(4) and study.origin is None
    assert study.note == GOOD["comment"]
    demo = from_dict(Study, _with(source={"kind": "demo", "seed": 3}, window=None))
    assert demo.window is None and demo.source.seed == 3


@pytest.mark.parametrize(
    ("changes", "field_name", "message"),
    [
        ({"name": None}, "name", "missing key"),
        ({"source": None}, "source", "missing section"),
        ({"labels": None}, "labels", "missing section"),
        ({"labels__classes": None}, "labels.classes", "missing key"),
        ({"labels__names": ["x"]}, "labels.names", "unknown key (valid keys: classes)"),
        ({"labels": ["A"]}, "labels", "expected a table"),
        ({"extra": {"a": 1}}, "extra", "unknown section (expected one of source, window, labels)"),
        ({"colour": 1}, "colour", "unknown key (valid keys: name, comment)"),
        ({"note": "x"}, "note", "unknown key"),
        ({"origin": "x"}, "origin", "unknown key"),
        ({"source__kind": "ftp"}, "source.kind", "expected one of file, demo, got 'ftp'"),
        ({"source__path": None}, "source.path", "missing key (required for kind 'file')"),
        ({"source__seed": 1}, "source.seed", "not used with kind 'file'"),
        ({"window": None}, "window", "missing section (required for kind 'file')"),
        ({"source": {"kind": "demo"}}, "window", "not used with kind 'demo'"),
        ({"labels__classes": ["A", 1]}, "labels.classes", "expected a list of strings"),
        ({"window__length": True}, "window.length", "expected int (a whole number), got True"),
    ],
)
def test_errors_name_the_dotted_key(changes, field_name, message):
    with pytest.raises(ConfigError) as info:
        from_dict(Study, _with(**changes))
    assert info.value.field == field_name
    assert message in info.value.message


def test_to_toml_reads_back_and_leaves_out_what_is_not_used():
    study = from_dict(Study, GOOD)
    text = to_toml(study)
    assert "[labels]" in text and "seed" not in text and "origin" not in text
    assert "comment = " in text and "note" not in text
    assert from_dict(Study, tomllib.loads(text)) == study
    demo = from_dict(Study, _with(source={"kind": "demo", "seed": 3}, window=None))
    assert "[window]" not in to_toml(demo) and "path" not in to_toml(demo)
    assert from_dict(Study, tomllib.loads(to_toml(demo))) == demo


def test_overrides_reach_kept_apart_tables_and_optional_sections():
    study = Study("s", Source("file", "a.csv"), ("A",))  # built by code, no window yet
    changed = apply_overrides(study, ["labels.classes=['X']", "window.length=16"])
    assert changed.classes == ("X",) and changed.window == Window(16)
    assert study.window is None and study.classes == ("A",)  # the original is left alone
    with pytest.raises(ConfigError, match="expected one of file, demo"):
        apply_overrides(study, ["source.kind=ftp"])
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(study, ["origin=x"])


def test_rules_that_cannot_be_read_are_refused_where_they_are_written():
    with pytest.raises(TypeError, match="used_with"):
        field_rules(required=True)
    with pytest.raises(TypeError, match="not deeper"):
        field_rules(toml="a.b.c")

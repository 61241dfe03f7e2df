"""The one config mechanism (imusynth.config): dataclasses from TOML by type hints."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

import pytest

from imusynth.config import apply_overrides, from_dict, read_toml, to_toml
from imusynth.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    seeds: tuple[int, ...] = (0,)
    rate: float = 1.0
    limit: int | None = None


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    flags: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)


def test_round_trip_and_types():
    cfg = from_dict(Outer, {"name": "a", "flags": ["p"], "inner": {"seeds": [1, 2], "rate": 2}})
    assert cfg.inner.seeds == (1, 2) and cfg.inner.rate == 2.0
    cfg = apply_overrides(cfg, ["inner.limit=3", "weights={ a = 1.5 }", 'flags=["q"]'])
    assert cfg.inner.limit == 3 and cfg.weights == {"a": 1.5} and cfg.flags == ["q"]
    assert from_dict(Outer, tomllib.loads(to_toml(cfg))) == cfg


@pytest.mark.parametrize(
    ("data", "field_name"),
    [
        ({"inner": {"sedes": [1]}}, "inner.sedes"),
        ({"inner": {"seeds": [True]}}, "inner.seeds"),
        ({"inner": {"rate": "fast"}}, "inner.rate"),
        ({"inner": 3}, "inner"),
        ({"nme": "a"}, "nme"),
    ],
)
def test_errors_name_the_field(data, field_name):
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, data)
    assert err.value.field == field_name


def test_override_errors(tmp_path):
    with pytest.raises(ConfigError, match="valid keys"):
        apply_overrides(Outer(), ["inner.nope=1"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(Outer(), ["inner.rate"])
    with pytest.raises(ConfigError, match="not found"):
        read_toml(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("a = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(tmp_path / "bad.toml")

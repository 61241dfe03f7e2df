"""Dataset spec parser: the valid specs we ship, and each kind of invalid spec."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path

import pytest

from imusynth.config import BUNDLED_DIR
from imusynth.data.spec import load_spec, parse_spec
from imusynth.errors import SpecError

from .conftest import ROOT

WATCH = BUNDLED_DIR / "watch.toml"


def _raw() -> dict:
    with WATCH.open("rb") as fh:
        return tomllib.load(fh)


def test_watch_spec_is_valid():
    spec = load_spec(WATCH)
    assert spec.source.kind == "seglearn-watch"
    assert spec.signal.channels == ("ax", "ay", "az", "wx", "wy", "wz")
    assert spec.signal.units[:3] == ("g",) * 3 and spec.signal.units[3:] == ("rad/s",) * 3
    assert spec.classes == ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
    # 5 s windows with 50 % overlap at 50 Hz
    assert (spec.windows.length, spec.windows.stride) == (250, 125)
    assert spec.signal.placement == "wrist"


def test_example_csv_spec_resolves_relative_path():
    spec = load_spec(ROOT / "data_specs" / "example_csv.toml")
    assert spec.source.path is not None and spec.source.path.exists()
    assert spec.columns.time == "time" and spec.columns.side == "side"


def test_resample_changes_window_length_in_samples():
    raw = _raw()
    raw["windows"]["resample_hz"] = 25.0
    spec = parse_spec(raw)
    assert spec.windows.length == 125 and spec.rate_hz == 25.0


def _mutate(fn):
    raw = copy.deepcopy(_raw())
    fn(raw)
    return raw


@pytest.mark.parametrize(
    ("mutation", "field", "message"),
    [
        (lambda r: r.__setitem__("colour", "red"), "colour", "unknown key"),
        (lambda r: r["signal"].__setitem__("gain", 2), "signal.gain", "unknown key"),
        (lambda r: r.__setitem__("extra", {}), "extra", "unknown section"),
        (lambda r: r.pop("labels"), "labels", "missing section"),
        (lambda r: r["signal"].pop("sampling_rate_hz"), "signal.sampling_rate_hz", "missing"),
        (
            lambda r: r["signal"].__setitem__("sampling_rate_hz", "fast"),
            "signal.sampling_rate_hz",
            "expected",
        ),
        (
            lambda r: r["signal"].__setitem__("sampling_rate_hz", -1.0),
            "signal.sampling_rate_hz",
            "positive",
        ),
        (lambda r: r["signal"].__setitem__("channels", "ax"), "signal.channels", "list"),
        (lambda r: r["signal"].__setitem__("units", ["g"]), "signal.units", "entries"),
        (lambda r: r["source"].__setitem__("kind", "matlab"), "source.kind", "one of"),
        (lambda r: r["source"].__setitem__("kind", "csv"), "source.path", "missing"),
        (lambda r: r["windows"].__setitem__("length", 250), "windows.length", "exactly one"),
        (lambda r: r["windows"].__setitem__("short", "truncate"), "windows.short", "one of"),
        (lambda r: r["windows"].__setitem__("length_s", True), "windows.length_s", "expected"),
        (lambda r: r["labels"].__setitem__("classes", ["A", "A"]), "labels.classes", "unique"),
    ],
)
def test_invalid_specs_name_the_field(mutation, field, message):
    with pytest.raises(SpecError) as info:
        parse_spec(_mutate(mutation), path="bad.toml")
    assert info.value.field == field
    assert message in info.value.message
    assert str(info.value).startswith(f"bad.toml: {field}: ")


def test_unreadable_and_malformed_files(tmp_path: Path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


def test_units_are_checked_and_spelled_one_way():
    raw = _mutate(lambda r: r["signal"].__setitem__("units", ["m/s2"] * 3 + ["dps"] * 3))
    spec = parse_spec(raw)
    assert spec.signal.units == ("m/s^2",) * 3 + ("deg/s",) * 3
    units = ["g", "g", "m/s", "rad/s", "rad/s", "rad/s"]
    bad = _mutate(lambda r: r["signal"].__setitem__("units", units))
    with pytest.raises(SpecError) as info:
        parse_spec(bad, path="bad.toml")
    assert info.value.field == "signal.units"
    assert "'m/s'" in info.value.message
    assert "g, m/s^2, mg, rad/s, deg/s" in info.value.message  # the accepted units


def test_gravity_and_placement():
    spec = load_spec(WATCH)
    assert spec.signal.gravity is True  # the default: a raw accelerometer's specific force
    raw = _mutate(lambda r: r["signal"].update(gravity=False, placement="Left Upper_Arm"))
    spec = parse_spec(raw)
    assert spec.signal.gravity is False and spec.signal.placement == "upper-arm-left"
    raw = _mutate(lambda r: r["signal"].pop("placement"))
    assert parse_spec(raw).signal.placement == ""
    assert parse_spec(_mutate(lambda r: r["signal"].update(placement="hip"))).signal.placement == (
        "hip"
    )
    for key, value in (("gravity", "no"), ("gravity", 0), ("placement", "wrist?")):
        with pytest.raises(SpecError) as info:
            parse_spec(_mutate(lambda r, k=key, v=value: r["signal"].__setitem__(k, v)))
        assert info.value.field == f"signal.{key}"


def test_a_spec_written_back_as_toml_reads_the_same(tmp_path: Path):
    from imusynth.config import to_toml

    for path in (
        BUNDLED_DIR / "watch.toml",
        ROOT / "data_specs" / "example_csv.toml",
        BUNDLED_DIR / "liver_phantoms.toml",
        ROOT / "data_specs" / "example_rois.toml",
    ):
        name = path.stem
        spec = load_spec(path)
        copy_path = tmp_path / f"{name}.toml"
        copy_path.write_text(to_toml(spec))
        again = load_spec(copy_path)
        assert again == dataclasses.replace(spec, path=copy_path), name

"""The one config mechanism: dataclasses loaded from TOML by their type hints.

A config is a dataclass whose fields are plain values (``int``, ``float``, ``bool``,
``str``, ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``) or nested config
dataclasses (TOML tables, "sections"; ``Section | None = None`` for an optional one). A
field without a default is required. :func:`field_rules` in a field's metadata adds what
type hints cannot say: the values it may take, a key used only with some values of another
key (a file path only for file sources), a key kept in a table of its own
(``[labels] classes``), or a field not read from TOML at all. Four operations serve GAN
configs (:mod:`imusynth.train.config`), experiment configs and dataset specs
(:mod:`imusynth.data.spec`):

- :func:`read_toml` reads a file into nested dicts;
- :func:`from_dict` builds a config from nested dicts, checking every key and type by the
  dataclass's type hints (an unknown key is an error naming the dotted field);
- :func:`apply_overrides` applies ``"section.key=value"`` strings (what ``--set`` passes),
  coercing the text to the field's type;
- :func:`to_toml` writes a config as TOML that :func:`from_dict` reads back to an equal one
  (:func:`to_dict` gives the nested plain dicts).

Every error is a :class:`~imusynth.errors.ConfigError` naming the dotted key in ``field``
(a caller that reads another kind of file re-raises it as its own error, as dataset specs
do with :class:`~imusynth.errors.SpecError`).

Examples
--------
>>> from dataclasses import dataclass, field
>>> @dataclass
... class Opt:
...     lr: float = 0.1
...     steps: int = 10
>>> @dataclass
... class Run:
...     name: str = "run"
...     opt: Opt = field(default_factory=Opt)
>>> cfg = from_dict(Run, {"opt": {"lr": 1}})
>>> cfg.opt.lr
1.0
>>> apply_overrides(cfg, ["opt.steps=5"]).opt.steps
5
>>> print(to_toml(Run()))
name = "run"
<BLANKLINE>
[opt]
lr = 0.1
steps = 10
<BLANKLINE>
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from imusynth.config_values import _base_types, _join, check_choice, check_type, coerce
from imusynth.errors import ConfigError

__all__ = [
    "BUNDLED_DIR",
    "apply_overrides",
    "bundled_names",
    "check_choice",
    "check_type",
    "coerce",
    "field_rules",
    "find_config_file",
    "from_dict",
    "path_beside",
    "read_toml",
    "to_dict",
    "to_toml",
]

T = TypeVar("T")

# The configs imusynth installs with itself: the default GAN configs (``watch_cgan.toml``,
# ``ct_dcgan.toml``) and the specs of its embedded datasets (``watch.toml``,
# ``liver_phantoms.toml``), so that ``imusynth train`` and ``imusynth demo`` run from any
# folder, a wheel install too.
BUNDLED_DIR = Path(__file__).resolve().parent / "configs"
# The repository folder each stood in before it moved into the package (0.1.0): a path
# there still finds it, with a DeprecationWarning, for one release.
_MOVED_FROM = {
    "watch_cgan.toml": "experiments",
    "ct_dcgan.toml": "experiments",
    "watch.toml": "data_specs",
    "liver_phantoms.toml": "data_specs",
}


def bundled_names() -> list[str]:
    """The file names of the configs bundled with imusynth.

    Examples
    --------
    >>> bundled_names()
    ['ct_dcgan.toml', 'liver_phantoms.toml', 'watch.toml', 'watch_cgan.toml']
    """
    return sorted(p.name for p in BUNDLED_DIR.glob("*.toml"))


def find_config_file(path: str | Path) -> Path:
    """The TOML file ``path`` names, looking among the bundled configs too.

    ``path`` itself when it exists; else, for a bare file name that is one of
    :func:`bundled_names` (``"watch_cgan.toml"``), that bundled file; else, for a path that
    file had in the repository before it moved into the package
    (``experiments/watch_cgan.toml``, ``../data_specs/watch.toml``), the bundled file with a
    :class:`DeprecationWarning`; else ``path`` unchanged, for its reader to say it is missing.

    Examples
    --------
    >>> find_config_file("watch_cgan.toml") == BUNDLED_DIR / "watch_cgan.toml"
    True
    >>> find_config_file("no/such.toml")
    PosixPath('no/such.toml')
    """
    path = Path(path)
    bundled = BUNDLED_DIR / path.name
    if path.exists() or not bundled.is_file():
        return path
    if len(path.parts) == 1:
        return bundled
    if path.parent.name == _MOVED_FROM.get(path.name):
        warnings.warn(
            f"{path}: this file moved into imusynth (imusynth/configs/{path.name}); name it "
            f"{path.name!r}, which finds it from any folder",
            DeprecationWarning,
            stacklevel=3,
        )
        return bundled
    return path


def path_beside(name: str | Path, folder: str | Path) -> Path:
    """Where a path that a TOML file in ``folder`` gives (a spec, a GAN config) points.

    An absolute ``name`` as given; else ``folder / name`` when that exists; else the bundled
    config of that bare file name (never a file of that name in the working folder), or the
    bundled file that ``folder / name`` names where it stood before it moved
    (:func:`find_config_file`); else ``folder / name``, for its reader to say it is missing.

    Examples
    --------
    >>> path_beside("watch.toml", "/anywhere") == BUNDLED_DIR / "watch.toml"
    True
    >>> path_beside("mine.toml", "/anywhere")
    PosixPath('/anywhere/mine.toml')
    """
    name = Path(name)
    beside = Path(folder) / name
    if name.is_absolute() or beside.exists():
        return beside
    if len(name.parts) == 1:  # never a file of that name in the working folder
        bundled = BUNDLED_DIR / name
        return bundled if bundled.is_file() else beside
    found = find_config_file(beside)
    return found if found.exists() else beside


def read_toml(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """Read a TOML file into nested dicts (a bundled config by its bare name too:
    :func:`find_config_file`).

    Raises
    ------
    ConfigError
        ``"<what> not found"`` or ``"not valid TOML (...)"``, naming the file.

    Examples
    --------
    >>> read_toml("no/such.toml")
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: no/such.toml: config file not found
    """
    path = find_config_file(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found", path=path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=path) from None


def _hints(cls: type) -> dict[str, Any]:
    """Field name -> resolved type hint, in field order (``init=False`` fields left out)."""
    try:
        resolved = typing.get_type_hints(cls)
    except NameError:
        # A config class defined inside a function (a test, a doctest) names its sections'
        # classes only there; their default factories tell which classes they are.
        local = {
            f.default_factory.__name__: f.default_factory
            for f in dataclasses.fields(cls)
            if isinstance(f.default_factory, type)
        }
        resolved = typing.get_type_hints(cls, localns=local)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}


def _section_class(hint: Any) -> type | None:
    """The config dataclass a hint names (``Sec`` or ``Sec | None``), else None."""
    kinds, _ = _base_types(hint)
    if len(kinds) == 1 and isinstance(kinds[0], type) and dataclasses.is_dataclass(kinds[0]):
        return kinds[0]
    return None


def _sections(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that are themselves config dataclasses (TOML tables)."""
    found = {name: _section_class(hint) for name, hint in _hints(cls).items()}
    return {name: sub for name, sub in found.items() if sub is not None}


def _only_sections(cls: type) -> bool:
    hints = _hints(cls)
    return bool(hints) and len(_sections(cls)) == len(hints)


_RULES = "imusynth.config"  # the key of a field's metadata that holds its rules


def field_rules(
    *,
    toml: str | types.EllipsisType | None = ...,
    choices: Iterable[Any] | None = None,
    used_with: tuple[str, Iterable[Any]] | None = None,
    required: bool = False,
) -> dict[str, Any]:
    """Metadata for a config field, read by :func:`from_dict`, :func:`apply_overrides` and
    :func:`to_toml`: ``field(default=..., metadata=field_rules(...))``.

    Parameters
    ----------
    toml : str or None, optional
        Where the field lives in the TOML table, when not under its own name: another key,
        or ``"labels.classes"`` for key ``classes`` of a table ``[labels]`` that has no
        dataclass of its own; ``None``: not read from TOML at all (set by code, e.g. the
        path of the file the config came from). Plain fields only.
    choices : iterable, optional
        The values the field may take.
    used_with : (str, iterable), optional
        ``("kind", ("csv", "parquet"))``: the key is only meaningful when the key ``kind`` of
        the same table (a dotted path reaches into a section: ``"source.kind"``) has one of
        these values; given with another value it is an error.
    required : bool
        With ``used_with``: the key must be given when that condition holds.

    Examples
    --------
    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Source:
    ...     kind: str = field(default="file", metadata=field_rules(choices=("file", "demo")))
    ...     path: str | None = field(
    ...         default=None, metadata=field_rules(used_with=("kind", ("file",)), required=True))
    >>> from_dict(Source, {"kind": "file", "path": "a.csv"}).path
    'a.csv'
    >>> from_dict(Source, {"kind": "demo", "path": "a.csv"})
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: path: not used with kind 'demo'
    >>> from_dict(Source, {})
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: path: missing key (required for kind 'file')
    """
    rules: dict[str, Any] = {}
    if toml is not ...:
        rules["toml"] = None if toml is None else tuple(toml.split("."))
        if toml is not None and len(rules["toml"]) > 2:
            raise TypeError(f"toml={toml!r}: a key or table.key, not deeper")
    if choices is not None:
        rules["choices"] = tuple(choices)
    if used_with is not None:
        rules["used_with"] = (used_with[0], tuple(used_with[1]), required)
    elif required:
        raise TypeError("required=True needs used_with (a field without a default is required)")
    return {_RULES: rules}


def _rules(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata.get(_RULES, {})


def _toml_paths(cls: type) -> dict[str, tuple[str, ...]]:
    """Field name -> its key path in the TOML table (fields not read from TOML left out)."""
    paths = {}
    for f in dataclasses.fields(cls):
        if f.init:
            path = _rules(f).get("toml", (f.name,))
            if path is not None:
                paths[f.name] = path
    return paths


def _tables(cls: type) -> dict[str, dict[str, str]]:
    """TOML tables that hold plain fields of ``cls``: table -> {key: field name}."""
    tables: dict[str, dict[str, str]] = {}
    for name, path in _toml_paths(cls).items():
        if len(path) == 2:
            tables.setdefault(path[0], {})[path[1]] = name
    return tables


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def from_dict(cls: type[T], data: Mapping[str, Any], *, prefix: str = "") -> T:
    """Build a ``cls`` config from nested dicts, checking every key and type.

    Missing keys take the dataclass's defaults; a field without a default is required
    (``missing key``, or ``missing section`` for a table). Nested config dataclasses are read
    from sub-tables (``Section | None = None``: an optional table, ``None`` when absent).
    :func:`field_rules` adds choices, keys used only with some values of another key, and
    keys kept in a table of their own. ``prefix`` is prepended to the dotted key in error
    messages.

    Raises
    ------
    ConfigError
        Not a table, unknown section or key, a missing required key or section, a value of
        the wrong type or not among the field's choices, or a key that is not used with the
        value of the key it depends on. ``field`` is the dotted key.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Opt:
    ...     lr: float = 0.1
    >>> from_dict(Opt, {"lr": 1}).lr
    1.0
    >>> from_dict(Opt, {"rate": 1})
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: rate: unknown key (valid keys: lr)
    """
    hints = _hints(cls)
    sections = _sections(cls)
    only_sections = _only_sections(cls)
    if not isinstance(data, Mapping):
        if only_sections and not prefix:
            raise ConfigError("expected a table of sections")
        raise ConfigError("expected a table", field=prefix or None)
    paths = _toml_paths(cls)
    keys = {path[0]: name for name, path in paths.items() if len(path) == 1}
    tables = _tables(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = _join(prefix, key)
        if key in tables:
            if not isinstance(value, Mapping):
                raise ConfigError("expected a table", field=dotted)
            for sub, item in value.items():
                if sub not in tables[key]:
                    valid = ", ".join(tables[key])
                    raise ConfigError(
                        f"unknown key (valid keys: {valid})", field=_join(dotted, sub)
                    )
                name = tables[key][sub]
                kwargs[name] = _value(cls, name, item, hints[name], _join(dotted, sub))
            continue
        if key not in keys:
            raise _unknown(cls, key, value, dotted, keys, tables)
        name = keys[key]
        if name in sections:
            if not isinstance(value, Mapping):
                raise ConfigError("expected a table", field=dotted)
            kwargs[name] = from_dict(sections[name], value, prefix=dotted)
        else:
            kwargs[name] = _value(cls, name, value, hints[name], dotted)
    _check_presence(cls, data, kwargs, prefix, sections)
    return cls(**kwargs)


def _unknown(cls, key, value, dotted, keys, tables) -> ConfigError:
    section_names = [k for k, name in keys.items() if name in _sections(cls)] + list(tables)
    if _only_sections(cls) or (isinstance(value, Mapping) and section_names):
        return ConfigError(
            f"unknown section (expected one of {', '.join(section_names)})", field=dotted
        )
    plain = [k for k, name in keys.items() if name not in _sections(cls)]
    return ConfigError(f"unknown key (valid keys: {', '.join(plain)})", field=dotted)


def _value(cls: type, name: str, value: Any, hint: Any, dotted: str) -> Any:
    value = check_type(value, hint, dotted)
    choices = _rules(_field(cls, name)).get("choices")
    if choices is not None and value is not None:
        check_choice(value, choices, dotted)
    return value


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _check_presence(
    cls: type,
    data: Mapping[str, Any],
    kwargs: dict[str, Any],
    prefix: str,
    sections: dict[str, type],
) -> None:
    """Required fields given, and fields that depend on another key only where it allows."""
    paths = _toml_paths(cls)
    for f in dataclasses.fields(cls):
        if f.name not in paths:
            continue
        what = "section" if f.name in sections else "key"
        dotted = _join(prefix, ".".join(paths[f.name]))
        if len(paths[f.name]) == 2 and paths[f.name][0] not in data:
            dotted, what = _join(prefix, paths[f.name][0]), "section"
        if "used_with" in _rules(f):
            other, allowed, required = _rules(f)["used_with"]
            value = _lookup(cls, kwargs, other)
            where = f"{other.rsplit('.', 1)[-1]} {value!r}"
            if f.name in kwargs and value not in allowed:
                raise ConfigError(f"not used with {where}", field=dotted)
            if required and f.name not in kwargs and value in allowed:
                raise ConfigError(f"missing {what} (required for {where})", field=dotted)
        elif f.name not in kwargs and not _has_default(f):
            raise ConfigError(f"missing {what}", field=dotted)


def _lookup(cls: type, kwargs: dict[str, Any], dotted: str) -> Any:
    """The value of another key of the table being read (``"source.kind"`` reaches into a
    section already read), or its default."""
    first, *rest = dotted.split(".")
    if first in kwargs:
        value = kwargs[first]
    else:
        f = _field(cls, first)
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            return None
    for part in rest:
        value = getattr(value, part, None)
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dicts (what a checkpoint stores)."""
    return dataclasses.asdict(cfg)


def apply_overrides(cfg: T, overrides: Iterable[str]) -> T:
    """Return a copy of ``cfg`` with ``"section.key=value"`` overrides applied.

    Keys are dotted paths through nested config dataclasses; the text after ``=`` is
    coerced to the field's type (see :func:`coerce`).

    Raises
    ------
    ConfigError
        No ``=``, an unknown section or key, or text that is not of the field's type.

    Examples
    --------
    >>> from dataclasses import make_dataclass
    >>> Opt = make_dataclass("Opt", [("lr", float, 0.1), ("steps", int, 10)])
    >>> cfg = apply_overrides(Opt(), ["lr=0.5", "steps=20"])
    >>> cfg.lr, cfg.steps
    (0.5, 20)
    """
    cfg = _copy(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"expected key=value, got {item!r}", field=key or item)
        cfg = _set(cfg, key.split("."), text.strip(), key)
    return cfg


def _copy(cfg: T) -> T:
    changes = {
        name: _copy(getattr(cfg, name))
        for name in _sections(type(cfg))
        if getattr(cfg, name) is not None
    }
    return dataclasses.replace(cfg, **changes)


def _set(obj: T, parts: list[str], text: str, key: str) -> T:
    cls = type(obj)
    hints, sections = _hints(cls), _sections(cls)
    paths = _toml_paths(cls)
    by_path = {path: name for name, path in paths.items()}
    name, rest = parts[0], parts[1:]
    if rest and name in sections and name in paths:
        current = getattr(obj, name)
        if current is None:  # an optional section not given: start from its defaults
            current = from_dict(sections[name], {}, prefix=name)
        return dataclasses.replace(obj, **{name: _set(current, rest, text, key)})
    target = by_path.get(tuple(parts))
    if target is not None and target not in sections:
        value = coerce(text, hints[target], key)
        choices = _rules(_field(cls, target)).get("choices")
        if choices is not None and value is not None:
            check_choice(value, choices, key)
        return dataclasses.replace(obj, **{target: value})
    if _only_sections(cls):
        raise ConfigError(
            f"unknown key (write section.key with section one of {', '.join(sections)})",
            field=key,
        )
    valid = [".".join(path) for path in paths.values()]
    raise ConfigError(f"unknown key (valid keys: {', '.join(valid)})", field=key)


def to_toml(cfg: Any) -> str:
    """Write ``cfg`` as TOML that :func:`from_dict` reads back to an equal config.

    Plain keys come first, then the tables of keys kept apart (:func:`field_rules`), then
    one ``[section]`` table per nested config (an optional section that is ``None``, and a
    key not used with the value of the key it depends on, are left out). TOML has no null:
    a ``None`` value is written as a comment (an absent key reads back as the default, which
    must then be ``None``). Fields not read from TOML are not written.
    """
    lines: list[str] = []
    _emit(cfg, "", lines)
    return "\n".join(lines)


def _emit(cfg: Any, prefix: str, lines: list[str]) -> None:
    sections = _sections(type(cfg))
    paths = _toml_paths(type(cfg))
    paths = {name: path for name, path in paths.items() if _used(cfg, name)}
    plain = [name for name, path in paths.items() if len(path) == 1 and name not in sections]
    if prefix:
        lines.append(f"[{prefix}]")
    if prefix or plain:
        _emit_keys(cfg, [(paths[name][0], name) for name in plain], lines)
        lines.append("")
    for table, keys in _tables(type(cfg)).items():
        lines.append(f"[{_join(prefix, table)}]")
        _emit_keys(cfg, [(key, name) for key, name in keys.items()], lines)
        lines.append("")
    for name in sections:
        if name in paths and getattr(cfg, name) is not None:
            _emit(getattr(cfg, name), _join(prefix, name), lines)


def _used(cfg: Any, name: str) -> bool:
    """False for a field whose ``used_with`` condition does not hold (it is not written)."""
    rule = _rules(_field(type(cfg), name)).get("used_with")
    if rule is None:
        return True
    value = cfg
    for part in rule[0].split("."):
        value = getattr(value, part, None)
    return value in rule[1]


def _emit_keys(cfg: Any, keys: list[tuple[str, str]], lines: list[str]) -> None:
    for key, name in keys:
        value = getattr(cfg, name)
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # TOML spells inf and nan as Python's repr does
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, Path):
        value = str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _toml_key(key: Any) -> str:
    text = str(key)
    if text and all(c.isalnum() or c in "-_" for c in text):
        return text
    return _toml_value(text)

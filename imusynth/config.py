"""The one config mechanism: dataclasses loaded from TOML by their type hints.

A config is a dataclass whose fields are plain values (``int``, ``float``, ``bool``,
``str``, ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``) or nested config
dataclasses (TOML tables, "sections"). Four operations serve GAN configs
(:mod:`imusynth.train.config`), experiment configs and dataset specs:

- :func:`read_toml` reads a file into nested dicts;
- :func:`from_dict` builds a config from nested dicts, checking every key and type by the
  dataclass's type hints (an unknown key is an error naming the dotted field);
- :func:`apply_overrides` applies ``"section.key=value"`` strings (what ``--set`` passes),
  coercing the text to the field's type;
- :func:`to_toml` writes a config as TOML that :func:`from_dict` reads back to an equal one
  (:func:`to_dict` gives the nested plain dicts).

Every error is a :class:`~imusynth.errors.ConfigError` naming the dotted key.

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from imusynth.errors import ConfigError

__all__ = [
    "apply_overrides",
    "check_choice",
    "check_type",
    "coerce",
    "from_dict",
    "read_toml",
    "to_dict",
    "to_toml",
]

T = TypeVar("T")

_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_PLURAL_WORDS = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def read_toml(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """Read a TOML file into nested dicts.

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
    path = Path(path)
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


def _is_config(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _sections(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that are themselves config dataclasses (TOML tables)."""
    return {name: hint for name, hint in _hints(cls).items() if _is_config(hint)}


def _only_sections(cls: type) -> bool:
    hints = _hints(cls)
    return bool(hints) and len(_sections(cls)) == len(hints)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def from_dict(cls: type[T], data: Mapping[str, Any], *, prefix: str = "") -> T:
    """Build a ``cls`` config from nested dicts, checking every key and type.

    Missing keys take the dataclass's defaults; nested config dataclasses are read from
    sub-tables. ``prefix`` is prepended to the dotted key in error messages.

    Raises
    ------
    ConfigError
        Not a table, unknown section or key, or a value of the wrong type.

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
    if only_sections:
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise ConfigError(
                f"unknown section (expected one of {', '.join(hints)})",
                field=_join(prefix, unknown[0]),
            )
        kwargs = {}
        for name, sub in sections.items():
            values = data.get(name, {})
            if not isinstance(values, Mapping):
                raise ConfigError("expected a table", field=_join(prefix, name))
            kwargs[name] = from_dict(sub, values, prefix=_join(prefix, name))
        return cls(**kwargs)
    kwargs = {}
    for key, value in data.items():
        dotted = _join(prefix, key)
        if key not in hints:
            raise ConfigError(f"unknown key (valid keys: {', '.join(hints)})", field=dotted)
        if key in sections:
            if not isinstance(value, Mapping):
                raise ConfigError("expected a table", field=dotted)
            kwargs[key] = from_dict(sections[key], value, prefix=dotted)
        else:
            kwargs[key] = check_type(value, hints[key], dotted)
    return cls(**kwargs)


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
    changes = {name: _copy(getattr(cfg, name)) for name in _sections(type(cfg))}
    return dataclasses.replace(cfg, **changes)


def _set(obj: T, parts: list[str], text: str, key: str) -> T:
    cls = type(obj)
    hints, sections = _hints(cls), _sections(cls)
    name, rest = parts[0], parts[1:]
    if rest and name in sections:
        return dataclasses.replace(obj, **{name: _set(getattr(obj, name), rest, text, key)})
    if not rest and name in hints and name not in sections:
        return dataclasses.replace(obj, **{name: coerce(text, hints[name], key)})
    if _only_sections(cls):
        raise ConfigError(
            f"unknown key (write section.key with section one of {', '.join(sections)})",
            field=key,
        )
    raise ConfigError(f"unknown key (valid keys: {', '.join(hints)})", field=key)


def to_toml(cfg: Any) -> str:
    """Write ``cfg`` as TOML that :func:`from_dict` reads back to an equal config.

    Plain keys come first, then one ``[section]`` table per nested config. TOML has no
    null: a ``None`` value is written as a comment (an absent key reads back as the
    default, which must then be ``None``).
    """
    lines: list[str] = []
    _emit(cfg, "", lines)
    return "\n".join(lines)


def _emit(cfg: Any, prefix: str, lines: list[str]) -> None:
    sections = _sections(type(cfg))
    plain = [f.name for f in dataclasses.fields(cfg) if f.name not in sections]
    if prefix:
        lines.append(f"[{prefix}]")
    if prefix or plain:
        for key in plain:
            value = getattr(cfg, key)
            if value is None:
                lines.append(f"# {key} = (not set)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    for name in sections:
        _emit(getattr(cfg, name), _join(prefix, name), lines)


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


def _base_types(hint: Any) -> tuple[tuple[Any, ...], bool]:
    """``int | None`` -> ((int,), True)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        return tuple(a for a in args if a is not type(None)), type(None) in args
    return (hint,), False


def _word(kind: Any) -> str:
    if isinstance(kind, type):
        return _TYPE_WORDS.get(kind, kind.__name__)
    return str(kind)


def check_type(value: Any, hint: Any, key: str) -> Any:
    """Check a TOML value against a type hint; ints are taken for floats, never bools for ints.

    Lists are accepted for ``list[X]`` and ``tuple[X, ...]`` hints (returned as a tuple for
    the latter) and tables for ``dict[str, X]``; their items are checked the same way.

    Examples
    --------
    >>> check_type(3, float, "lr")
    3.0
    >>> check_type(True, int, "steps")
    Traceback (most recent call last):
    ...
    imusynth.errors.ConfigError: steps: expected an integer, got True
    """
    kinds, optional = _base_types(hint)
    if value is None and optional:
        return None
    kind = kinds[0]
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        item = typing.get_args(kind)[0] if typing.get_args(kind) else Any
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected a list of {_plural(item)}, got {value!r}", field=key)
        items = [check_type(v, item, key) if item is not Any else v for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        args = typing.get_args(kind)
        item = args[1] if len(args) == 2 else Any
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a table, got {value!r}", field=key)
        return {
            k: check_type(v, item, _join(key, str(k))) if item is not Any else v
            for k, v in value.items()
        }
    if kind is Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"expected an integer, got {value!r}", field=key)
    if kind is Path and isinstance(value, str):
        return Path(value)
    if not isinstance(value, kind):
        raise ConfigError(f"expected {_word(kind)}, got {value!r}", field=key)
    return value


def _plural(kind: Any) -> str:
    return _PLURAL_WORDS.get(kind, getattr(kind, "__name__", str(kind)))


def coerce(text: str, hint: Any, key: str) -> Any:
    """Turn command-line text into a value of the field's type.

    ``none``/``null``/empty is ``None`` for optional fields; booleans take
    ``true/false/1/0/yes/no/on/off``; lists and tables are written as TOML values
    (``[1, 2]``).

    Examples
    --------
    >>> coerce("off", bool, "model.spectral_norm")
    False
    >>> coerce("none", int | None, "data.length") is None
    True
    """
    kinds, optional = _base_types(hint)
    if optional and text.lower() in ("none", "null", ""):
        return None
    kind = kinds[0]
    if typing.get_origin(kind) in (list, tuple, dict):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"expected a TOML list or table, got {text!r}", field=key) from None
        return check_type(value, kind, key)
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"expected true or false, got {text!r}", field=key)
    if kind is str:
        return text.strip('"')
    if kind is Path:
        return Path(text.strip('"'))
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ConfigError(f"expected {_TYPE_WORDS[kind]}, got {text!r}", field=key) from None
    raise ConfigError(f"cannot set a value of type {kind!r} from the command line", field=key)


def check_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``.

    Examples
    --------
    >>> check_choice("bce", ("bce", "hinge"), "train.loss")
    """
    if value not in choices:
        raise ConfigError(f"expected one of {', '.join(choices)}, got {value!r}", field=key)

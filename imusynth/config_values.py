"""One value of a config against its type hint: the checks under :mod:`imusynth.config`.

:func:`check_type` checks a value read from TOML, :func:`coerce` turns command-line text
(``--set key=value``) into one, and :func:`check_choice` checks it against a list of choices.
Each raises :class:`~imusynth.errors.ConfigError` naming the dotted key;
:mod:`imusynth.config` re-exports all three.
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imusynth.errors import ConfigError

__all__ = ["check_choice", "check_type", "coerce"]

_TYPE_WORDS = {
    int: "int (a whole number)",
    float: "a number",
    bool: "true or false",
    str: "a string",
}
_PLURAL_WORDS = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


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
    imusynth.errors.ConfigError: steps: expected int (a whole number), got True
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
        try:
            items = [check_type(v, item, key) if item is not Any else v for v in value]
        except ConfigError:
            raise ConfigError(
                f"expected a list of {_plural(item)}, got {value!r}", field=key
            ) from None
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
        raise ConfigError(f"expected {_TYPE_WORDS[int]}, got {value!r}", field=key)
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

"""Deprecated import paths: one lazy alias helper for every moved module (ground floor).

An old path keeps working for one release. Its module binds what :func:`lazy_alias` returns
as its module-level ``__getattr__`` and ``__dir__``; the new module is imported only when a
name is first looked up, so an old path on a low floor never imports the higher floor its
names moved to, and each look-up warns with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["DEPRECATED", "MOVED", "lazy_alias"]

DEPRECATED = "{old} is deprecated; import {name} from {new}"  # a whole module moved
MOVED = "{old}.{name} moved to {new}.{name}"  # some names of a module moved


def lazy_alias(
    old: str, new: str, *, names: Iterable[str] | None = None, message: str = DEPRECATED
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of module ``old``, a deprecated alias of ``new``.

    Parameters
    ----------
    old, new : str
        Dotted names of the alias module and of the module its names moved to.
    names : iterable of str, optional
        The names that moved; default: the new module's ``__all__`` (which the alias then
        also answers for ``__all__``, so a star import keeps working).
    message : str
        The warning, formatted with ``old``, ``name`` and ``new``.

    Examples
    --------
    ``imusynth/turing.py`` is ``__getattr__, __dir__ = lazy_alias(__name__, NEW)``:

    >>> import warnings
    >>> getattr_, _ = lazy_alias("imusynth.turing", "imusynth.evaluation.turing")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     key = getattr_("KEY_NAME")
    >>> key, caught[0].category.__name__
    ('answer_key.csv', 'DeprecationWarning')
    """
    moved = None if names is None else tuple(names)

    def _names() -> tuple[str, ...]:
        return moved if moved is not None else tuple(importlib.import_module(new).__all__)

    def __getattr__(name: str) -> Any:
        if name == "__all__" and moved is None:
            return list(_names())
        if name.startswith("__") or name not in _names():
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(message.format(old=old, name=name, new=new), DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[old])) | set(_names()))

    return __getattr__, __dir__

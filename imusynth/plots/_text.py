"""Text that reaches matplotlib from users (class, channel, subject and arm names).

Matplotlib reads a string between two ``$`` as mathtext, and a name such as ``$\\foo$`` then
fails when the figure is drawn (after training, when the final figure is saved). Escaping
every ``$`` makes all names print literally.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["escape", "escape_all"]


def escape(text: object) -> str:
    """``text`` as a string that matplotlib prints literally (no mathtext).

    Examples
    --------
    >>> escape("$\\\\alpha$ 5%")
    '\\\\$\\\\alpha\\\\$ 5%'
    >>> escape(3)
    '3'
    """
    return str(text).replace("$", "\\$")


def escape_all(texts: Iterable[object]) -> list[str]:
    """:func:`escape` of each of ``texts``.

    Examples
    --------
    >>> escape_all(["a", "$b$"])
    ['a', '\\\\$b\\\\$']
    """
    return [escape(t) for t in texts]

"""Text that reaches matplotlib from users (class, channel, subject and arm names).

Matplotlib reads a string between two ``$`` as mathtext, and a name such as ``$\\foo$`` then
fails when the figure is drawn (after training, when the final figure is saved). Escaping
every ``$`` makes all names print literally. A legend also drops every entry whose label
starts with ``_`` (matplotlib's mark for "no legend"), so a class named ``_x_`` would vanish
from it: such text starts with an invisible zero-width space instead.
"""

from __future__ import annotations

__all__ = ["escape"]


def escape(text: object) -> str:
    """``text`` as a string that matplotlib prints literally (no mathtext).

    Examples
    --------
    >>> escape("$\\\\alpha$ 5%")
    '\\\\$\\\\alpha\\\\$ 5%'
    >>> escape(3)
    '3'
    >>> s = escape("_x_")  # an invisible first character
    >>> s[1:], len(s)
    ('_x_', 4)
    """
    out = str(text).replace("$", "\\$")
    return "\u200b" + out if out.startswith("_") else out

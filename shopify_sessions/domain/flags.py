"""How a yes/no flag stored as text reads: one reading for every reader of a shared item.

SQL drivers hand back ``'1'``/``'0'`` or ``'t'``/``'f'``, Node's property arrays ``'true'`` /
``'false'``; the same text must mean the same thing whichever reader meets it (the SQL importer
and the property-array reader once disagreed about ``'1'``).
"""

from __future__ import annotations

__all__ = ["flag_from_text"]

_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})


def flag_from_text(text: str) -> bool | None:
    """``'1'``, ``'t'``, ``'true'``: True; ``'0'``, ``'f'``, ``'false'``: False (any case,
    spaces around ignored); ``None`` for any other text."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None

"""OAuth scope sets with Shopify's implied scopes (``write_X`` implies ``read_X``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Union

from ._js import JS_WHITESPACE, js_trim

__all__ = ["AuthScopes", "ScopesLike"]

# JavaScript's \s and trim(), not Python's: they differ on U+FEFF, U+001C-U+001F and U+0085
# patterns compiled at first use (re caches them): nothing to compile at import
_SPLIT = f",[{re.escape(JS_WHITESPACE)}]*"
# JavaScript's "." stops at every line terminator, and its "$" only at the very end
_WRITE = "(unauthenticated_)?write_([^\n\r\u2028\u2029]*)"

ScopesLike = Union["AuthScopes", str, Iterable[str], None]


class AuthScopes:
    """A set of scopes, compared the way ``@shopify/shopify-api``'s ``AuthScopes`` does.

    ``compressed`` holds the scopes as granted minus the implied ones; ``expanded`` adds every
    implied scope, so ``write_products`` *has* ``read_products``.
    """

    __slots__ = ("compressed", "expanded")

    def __init__(self, scopes: ScopesLike = None) -> None:
        if isinstance(scopes, AuthScopes):
            names: list[str] = list(scopes.compressed)
        elif isinstance(scopes, str):
            names = re.split(_SPLIT, scopes)
        elif scopes is None:
            names = []
        else:
            names = list(scopes)
            if not all(isinstance(name, str) for name in names):
                raise TypeError("AuthScopes takes a str, an iterable of str or AuthScopes")
        names = [js_trim(name) for name in names if js_trim(name)]
        implied = {_implied(name) for name in names} - {None}
        # dict keeps first-seen order, so str() is stable and mirrors the input
        self.compressed: dict[str, None] = dict.fromkeys(n for n in names if n not in implied)
        self.expanded: frozenset[str] = frozenset(names) | frozenset(i for i in implied if i)

    def has(self, scopes: ScopesLike) -> bool:
        """True when every scope of ``scopes`` is granted here (directly or implied)."""
        other = scopes if isinstance(scopes, AuthScopes) else AuthScopes(scopes)
        return all(scope in self.expanded for scope in other.compressed)

    def equals(self, scopes: ScopesLike) -> bool:
        """True when both sets grant the same scopes.

        Symmetric, unlike Node's, which finds ``read_a`` equal to ``write_a``.
        """
        other = scopes if isinstance(scopes, AuthScopes) else AuthScopes(scopes)
        return len(self.compressed) == len(other.compressed) and self.has(other) and other.has(self)

    def to_list(self) -> list[str]:
        """The compressed scopes, in the order first given."""
        return list(self.compressed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (AuthScopes, str, list, tuple, set, frozenset)):
            return self.equals(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return ",".join(self.compressed)

    def __repr__(self) -> str:
        return f"AuthScopes({str(self)!r})"


def _implied(scope: str) -> str | None:
    match = re.fullmatch(_WRITE, scope)
    if match is None:
        return None
    return f"{match.group(1) or ''}read_{match.group(2)}"

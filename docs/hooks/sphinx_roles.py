"""Docstrings here use Sphinx's roles (:class:`~.admin.TablePlans`, :attr:`sync`), which
mkdocstrings renders as Markdown: the role's name stays in front of the code. Show the code
alone (the last dotted part when the target starts with ``~``), as Sphinx would."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def plain(match: re.Match[str]) -> str:
    target = match[2].lstrip(".")
    return f"<code>{target.rsplit('.', 1)[-1] if match[1] else target}</code>"


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    return _ROLE.sub(plain, html)

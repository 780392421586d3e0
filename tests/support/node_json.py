"""``Session`` <-> the Node adapter's plain-JSON form (what crosses the adapter_cli pipe).

Re-exports :mod:`shopify_sessions.formats.node_json`, which goes through the package's own item
codec (``session_to_item`` / ``item_to_session``), never a hand-written copy of the format, so a
drift in our item format shows up as a difference from what the real Node adapter writes and reads.
"""

from __future__ import annotations

from shopify_sessions.formats.node_json import node_json_to_session, session_to_node_json

__all__ = ["node_json_to_session", "session_to_node_json"]

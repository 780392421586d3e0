"""Running code in a fresh interpreter: what importing or calling loads, seen from scratch."""

from __future__ import annotations

import subprocess
import sys


def printed_by(code: str) -> list[str]:
    """The lines a fresh interpreter running ``code`` prints."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.splitlines()

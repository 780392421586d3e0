"""A loopback HTTP server that answers a token request one byte at a time.

Every byte comes well within any read timeout, so only a total deadline stops a client: the
slow answer a refresher must not wait out (issue 21.7).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["trickling_server"]

ANSWER = {
    "access_token": "shpat_trickled_0123456789abcdef",
    "scope": "read_products",
    "expires_in": 3600,
    "refresh_token": "shprt_trickled_0123456789abcdef",
    "refresh_token_expires_in": 7776000,
}


def _serve(sock: socket.socket, pause: float, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(65536)
            if not chunk:
                return
            request += chunk
        body = json.dumps(ANSWER).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        for byte in head.encode() + b"\r\n\r\n" + body:
            if stop.is_set():
                return
            sock.sendall(bytes([byte]))
            time.sleep(pause)
    sock.close()


@contextmanager
def trickling_server(pause: float = 0.05) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server trickling each answer (~300 bytes) at ``pause``."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                sock, _ = listener.accept()
                threading.Thread(target=_serve, args=(sock, pause, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)

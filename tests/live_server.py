"""A live uvicorn server in a thread, for tests that need real sockets (slow clients, a browser)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[int]:
    """``app`` served by uvicorn on a free loopback port in a daemon thread (``config``: more ``uvicorn.Config``
    arguments); yields the port once the server has started and stops it on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            thread.join(0.05)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        thread.join(10)

"""Both of ``aer serve``'s HTTP protocols (issue 35): httptools' (what it runs where httptools is installed) and
h11's keep the headers' deadline: a stalled client is let go, a prompt or kept-alive one is answered."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

pytest.importorskip("httpx")

from retrieval.server import protocol  # noqa: E402
from retrieval.server.app import create_app  # noqa: E402

from .live_server import serve_in_thread  # noqa: E402
from .test_server_hygiene import answer_of, read_all, read_response  # noqa: E402

httptools = pytest.importorskip("httptools")


def test_aer_serve_runs_httptools_where_it_is_installed():
    assert protocol.HeaderTimeoutHTTP is protocol.HeaderTimeoutHttpTools


@contextlib.contextmanager
def live(app, http: type) -> Iterator[int]:
    """``app`` served by uvicorn with ``http`` (headers due within 0.5 s) on a free loopback port, in a thread."""
    quick = type("Quick", (http,), {"header_timeout_s": 0.5})
    with serve_in_thread(app, http=quick, lifespan="off") as port:
        yield port


@pytest.mark.parametrize("http", ["HeaderTimeoutHttpTools", "HeaderTimeoutH11"])
def test_a_stalled_client_is_let_go_and_a_prompt_one_answered(text_collection, http):
    app = create_app(text_collection, device="cpu", refresh_s=0)
    with live(app, getattr(protocol, http)) as port:
        assert answer_of(port, b"") == b""  # connected, sent nothing
        assert answer_of(port, b"GET /healthz HTTP/1.1\r\nHost: local") == b""  # half a header
        answer = answer_of(port, b"GET /search?q=orbit&k=2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"hits"' in answer
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:  # kept alive, then half a header
            for _ in range(3):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert read_response(sock).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            assert read_all(sock) == b""

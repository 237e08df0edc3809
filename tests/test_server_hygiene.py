"""Server hygiene (issue 30, item 12): the ``Host`` allow-list (DNS rebinding), no server path or database URL in
any answer, deadlines for a slow body and slow headers, and a collection deleted under a live server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import faiss
import pytest

pytest.importorskip("httpx")
import uvicorn  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from retrieval.collection import directory  # noqa: E402
from retrieval.errors import CollectionError, InvalidParameterError  # noqa: E402
from retrieval.server.app import create_app  # noqa: E402
from retrieval.server.errors import redact  # noqa: E402
from retrieval.server.protocol import HeaderTimeoutH11, HeaderTimeoutHTTP  # noqa: E402

from .live_server import serve_in_thread  # noqa: E402
from .test_write_rollback import full_store  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://localhost"


def serve(path: Path, **options) -> TestClient:
    app = create_app(path, token=TOKEN, device="cpu", refresh_s=0, **options)
    return TestClient(app, base_url=LOCAL, raise_server_exceptions=False)


@pytest.fixture
def client(text_collection) -> Iterator[TestClient]:
    with serve(text_collection) as c:
        yield c


def assert_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    return body["message"]


def assert_no_server_paths(response, *roots: Path) -> None:
    text = response.text
    for root in roots:
        assert str(root) not in text, text
    assert "sqlite:" not in text and "postgresql:" not in text, text


# --- Host ---------------------------------------------------------------------------------------------------


def test_only_local_host_names_are_answered_by_default(client):
    for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LocalHost."):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    for host in ("attacker.example:8000", "testserver", "localhost.attacker.example", "127.0.0.1.nip.io", "a b"):
        response = client.get("/info", headers={"Host": host})
        message = assert_error(response, 400, "bad_host")
        assert "DNS rebinding" in message and "--allow-host" in message
        assert "items" not in response.json()  # nothing of the collection
    assert_error(client.get("/", headers={"Host": "attacker.example"}), 400, "bad_host")  # the page too


def test_more_host_names_can_be_allowed(text_collection):
    with serve(text_collection, allowed_hosts=["search.lan", "*.example.org", "192.168.1.20"]) as c:
        for host in ("search.lan:8000", "a.example.org", "b.a.example.org:1", "192.168.1.20", "localhost"):
            assert c.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("example.org", "evil-search.lan", "192.168.1.21"):
            assert_error(c.get("/healthz", headers={"Host": host}), 400, "bad_host")
    with serve(text_collection, allowed_hosts=["*"]) as c:
        assert c.get("/healthz", headers={"Host": "anything.example"}).status_code == 200
    with pytest.raises(InvalidParameterError, match="'not a host'"):
        create_app(text_collection, allowed_hosts=["not a host"])


def test_aer_serve_allows_its_host_and_the_names_given(text_collection, monkeypatch):
    from cli import serve
    from cli.main import main

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
    monkeypatch.setattr(serve, "check_port", lambda host, port: None)  # 10.1.2.3 is no address of this machine
    args = ["serve", str(text_collection), "--host", "10.1.2.3", "--allow-host", "box.lan", "--device", "cpu",
            "--body-timeout", "7"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert started["http"] is HeaderTimeoutHTTP and started["timeout_keep_alive"] > 0
    assert started["limit_concurrency"] > 0 and started["timeout_graceful_shutdown"] > 0
    with TestClient(started["app"], base_url=LOCAL) as c:
        for host in ("10.1.2.3:8000", "box.lan", "localhost:8000"):
            assert c.get("/healthz", headers={"Host": host}).status_code == 200, host
        assert_error(c.get("/healthz", headers={"Host": "10.1.2.4"}), 400, "bad_host")
    bad = CliRunner().invoke(main, ["serve", str(text_collection), "--allow-host", "a/b", "--device", "cpu"])
    assert bad.exit_code == 1 and "allowed host 'a/b'" in bad.output


# --- no paths or URLs in answers ----------------------------------------------------------------------------


def test_redact():
    col = Path("/srv/data/news.aer")
    assert redact("sqlite:////srv/data/news.aer/metadata.sqlite: cannot write (disk full)", col) == (
        "the metadata database: cannot write (disk full)"
    )
    assert redact("postgresql://aer:***@db.lan:5432/aer: refused", col) == "the metadata database: refused"
    assert redact("/srv/data/news.aer: damaged collection: /srv/data/news.aer/index.faiss", col) == (
        "news.aer: damaged collection: news.aer/index.faiss"
    )
    assert redact("cannot read /home/u/photos/cat.png (see https://x.org/a)", col) == "cannot read cat.png (see <url>)"
    assert redact("POST /search with an image; a/b/c stays", col) == "POST /search with an image; a/b/c stays"
    echoed = "no item with id '/home/u/a.txt' in /srv/data/news.aer"  # the request's own id is kept
    assert redact(echoed, col, echo=True) == "no item with id '/home/u/a.txt' in news.aer"


def test_errors_name_no_server_path_nor_database_url(client, text_collection, monkeypatch, caplog):
    root = text_collection.parent
    response = client.get("/items/nope")
    assert "c.aer" in assert_error(response, 404, "not_found")
    assert_no_server_paths(response, root)

    info = client.get("/info")
    assert info.json()["path"] == "c.aer" and info.json()["store"] == "metadata.sqlite"
    assert_no_server_paths(info, root)

    def failing(message: str):
        def write(index, path):
            raise RuntimeError(f"Error in void faiss::write_index: write error in {path}: ({message})")

        return write

    for message, status, code in (("No space left on device", 507, "insufficient_storage"),
                                  ("Input/output error", 503, "storage_error")):  # fmt: skip
        monkeypatch.setattr(faiss, "write_index", failing(message))
        response = client.post("/items", json=[{"id": "new", "text": "orbit rocket"}], headers=AUTH)
        assert message in assert_error(response, status, code)
        assert_no_server_paths(response, root)
    monkeypatch.undo()
    assert str(root) in caplog.text  # the server's log keeps the whole message

    with client.app.state.served.reading() as col:
        undo = full_store(col)
    items = [{"id": f"new-{n}", "text": f"orbit rocket launch {n} " * 40} for n in range(20)]  # needs new pages
    response = client.post("/items", json=items, headers=AUTH)
    assert "the metadata database" in assert_error(response, 507, "insufficient_storage")
    assert_no_server_paths(response, root)
    undo()

    with directory.write_lock(text_collection):  # another writer holds the lock
        served = client.app.state.served
        served.lock_wait_s = 0.05
        response = client.delete("/items/space/space-00.txt", headers=AUTH)
    assert_error(response, 503, "busy")
    assert_no_server_paths(response, root)

    (text_collection / directory.INDEX_FILE).write_bytes(b"not an index")  # damaged: read on the next write
    response = client.post("/items", json=[{"id": "new", "text": "orbit rocket"}], headers=AUTH)
    assert "damaged" in assert_error(response, 500, "collection_error")
    assert_no_server_paths(response, root)


def test_an_unexpected_error_is_a_generic_500_logged_whole(client, text_collection, monkeypatch, caplog):
    from retrieval.collection import Collection

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"boom in {text_collection / 'index.faiss'} at sqlite:///{text_collection}/m.sqlite")

    monkeypatch.setattr(Collection, "outliers", broken)
    response = client.get("/outliers")
    assert_error(response, 500, "internal_error")
    assert_no_server_paths(response, text_collection.parent)
    assert f"boom in {text_collection}" in caplog.text


# --- slow bodies and headers ---------------------------------------------------------------------------------


def call(app, method: str, path: str, receive, headers: dict[str, str]) -> tuple[int, dict[str, str], dict]:
    """One request straight through the ASGI ``app``: its status, headers and JSON body."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "localhost", **headers}.items()],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(body)


def stalled(*chunks: bytes):
    """A ``receive`` that hands out ``chunks`` (more to come), then never returns."""
    queue = list(chunks)

    async def receive() -> dict:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": True}
        await asyncio.Event().wait()  # the client sends nothing more, and does not hang up

    return receive


def trickle():
    """A ``receive`` that hands out one byte at a time, a little apart, forever."""

    async def receive() -> dict:
        await asyncio.sleep(0.01)
        return {"type": "http.request", "body": b" ", "more_body": True}

    return receive


@pytest.mark.parametrize("receive", [lambda: stalled(b'{"q": "orb'), stalled, trickle], ids=["part", "none", "trickle"])
def test_a_slow_body_is_408_and_the_connection_closed(text_collection, receive):
    app = create_app(text_collection, token=TOKEN, device="cpu", refresh_s=0, body_timeout_s=0.3)
    headers = {"content-type": "application/json", "content-length": "100000"}
    status, sent_headers, body = call(app, "POST", "/search", receive(), headers)
    assert (status, body["error"]) == (408, "request_timeout"), body
    assert sent_headers.get("connection") == "close"
    status, _, body = call(app, "POST", "/items", stalled(b"[{"), {**headers, **AUTH})  # writes too
    assert (status, body["error"]) == (408, "request_timeout"), body
    status, _, body = call(app, "POST", "/items", stalled(b"[{"), {**headers, "content-length": str(2 * 10**6)})
    assert (status, body["error"]) == (408, "request_timeout"), body  # too large and then stalled


def test_a_body_that_arrives_is_read_whole(text_collection):
    app = create_app(text_collection, device="cpu", refresh_s=0, body_timeout_s=5)
    parts = [b'{"q": "orbit ', b'rocket", "k": 2}']

    async def receive() -> dict:
        await asyncio.sleep(0.01)
        return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}

    status, _, body = call(app, "POST", "/search", receive, {"content-type": "application/json"})
    assert status == 200 and len(body["hits"]) == 2
    with pytest.raises(InvalidParameterError, match="body_timeout_s"):
        create_app(text_collection, body_timeout_s=0)


class QuickHeaders(HeaderTimeoutH11):
    header_timeout_s = 0.5


@contextlib.contextmanager
def live(app) -> Iterator[int]:
    """``app`` served by uvicorn (headers due within 0.5 s) on a free loopback port, in a thread."""
    with serve_in_thread(app, http=QuickHeaders, lifespan="off") as port:
        yield port


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (``socket.timeout``, a failure, if it never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def answer_of(port: int, sent: bytes) -> bytes:
    """What the server sends back to a client that sends ``sent`` and then nothing, until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(sent)
        return read_all(sock)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body), the connection left open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(lengths[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_uvicorn_lets_go_of_stalled_clients(text_collection):
    app = create_app(text_collection, token=TOKEN, device="cpu", refresh_s=0, body_timeout_s=1)
    with live(app) as port:
        assert answer_of(port, b"") == b""  # connected, sent nothing
        assert answer_of(port, b"GET /healthz HTTP/1.1\r\nHost: local") == b""  # half a header
        answer = answer_of(port, b"POST /search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 1000\r\n\r\n{\"q\": \"orb")  # fmt: skip
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in answer
        answer = answer_of(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")  # a prompt request is answered as before
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:  # kept alive, then half a header
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            assert read_all(sock) == b""


# --- the collection deleted under the server -----------------------------------------------------------------


def test_a_deleted_collection_is_503_gone_and_not_recreated(client, text_collection):
    assert client.get("/healthz").status_code == 200
    shutil.rmtree(text_collection)
    requests = [("POST", "/items", {"json": [{"id": "n", "text": "orbit rocket"}], "headers": AUTH}),
                ("DELETE", "/items/space/space-00.txt", {"headers": AUTH}),
                ("GET", "/search", {"params": {"q": "orbit rocket"}}), ("GET", "/items/space/space-00.txt", {}),
                ("GET", "/healthz", {}), ("GET", "/info", {}), ("GET", "/outliers", {})]  # fmt: skip
    for method, url, options in requests:
        response = client.request(method, url, **options)
        message = assert_error(response, 503, "collection_gone")
        assert message.startswith("the collection is gone: c.aer "), message
        assert_no_server_paths(response, text_collection.parent)
    assert not text_collection.exists()  # no write.lock recreated the directory


def test_a_collection_moved_away_and_back_is_served_again(client, text_collection):
    away = text_collection.with_name("elsewhere")
    text_collection.rename(away)
    assert_error(client.get("/search", params={"q": "orbit"}), 503, "collection_gone")
    away.rename(text_collection)
    assert client.get("/search", params={"q": "orbit", "k": 3}).status_code == 200
    response = client.post("/items", json=[{"id": "n", "text": "orbit rocket"}], headers=AUTH)
    assert response.status_code == 200 and response.json()["items"] == 37


def test_the_write_lock_does_not_recreate_a_deleted_collection(text_collection):
    shutil.rmtree(text_collection)
    with pytest.raises(CollectionError, match="no such collection"), directory.write_lock(text_collection):
        pass
    assert not text_collection.exists()

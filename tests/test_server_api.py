"""``aer serve`` through a live server: a subprocess on a free loopback port, a real HTTP client (httpx)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .conftest import FAST_AE, make_docs, make_images, write_corpus

httpx = pytest.importorskip("httpx")
pytestmark = pytest.mark.slow  # servers in subprocesses; the API in-process: test_trust_server, test_server_hygiene


ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# --- building and serving -----------------------------------------------------------------


def build_text(root: Path) -> Path:
    """The 36-document corpus as an autoencoder collection (it reconstructs: outlier scores)."""
    import retrieval

    retrieval.index_source(write_corpus(root / "corpus", make_docs()), root / "text.aer", device="cpu", **FAST_AE)
    return root / "text.aer"


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def build_images(root: Path) -> Path:
    """The synthetic red / green / stripes images, searched as raw pixels (nothing to train)."""
    import retrieval

    for n, (label, img) in enumerate(make_images()):
        (root / "photos" / label).mkdir(parents=True, exist_ok=True)
        (root / "photos" / label / f"{n:03d}.png").write_bytes(png_bytes(img))
    retrieval.index_source(root / "photos", root / "images.aer", encoder="pixels", device="cpu")
    return root / "images.aer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    """A running ``aer serve``: its collection, address, process and log."""

    path: Path
    url: str
    proc: subprocess.Popen
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def start_server(path: Path, log: Path) -> Live:
    """``aer serve path`` with the token, in a subprocess (not waited for: see ``serving``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AER_LOCK_TIMEOUT": "1", "AER_API_TOKEN": TOKEN}
    port = free_port()
    cmd = [sys.executable, "-c", "from cli.main import main; main()", "serve", str(path), "--port", str(port),
           "--device", "cpu", "--log-level", "warning"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Live(path, f"http://127.0.0.1:{port}", proc, log)


def wait_ready(live: Live, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while live.proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(live.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"aer serve did not start (exit code {live.proc.poll()}):\n{live.log.read_text()}")


@contextlib.contextmanager
def serving(root: Path) -> Iterator[dict[str, Live]]:
    """A text and an image collection built under ``root``, each served until the block ends; neither server
    may log a traceback."""
    lives = {"text": start_server(build_text(root), root / "text.log")}  # it starts while the images are built
    lives["image"] = start_server(build_images(root), root / "image.log")
    try:
        for live in lives.values():
            wait_ready(live)
        yield lives
    finally:
        for live in lives.values():
            live.proc.terminate()
            live.proc.wait(timeout=30)
    for live in lives.values():
        assert "Traceback" not in live.log.read_text(), live.log.read_text()


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, Live]]:
    with serving(tmp_path_factory.mktemp("served")) as lives:
        yield lives


@pytest.fixture(scope="module")
def text(servers) -> Live:
    return servers["text"]


@pytest.fixture(scope="module")
def image(servers) -> Live:
    return servers["image"]


@pytest.fixture
def client(text) -> Iterator[httpx.Client]:
    with text.client() as c:
        yield c


def stored_ids(path: Path) -> list[str]:
    """Every item id in the collection's store, read with no help from the library."""
    with sqlite3.connect(path / "metadata.sqlite") as db:
        return sorted(row[0] for row in db.execute("SELECT item_id FROM items"))


def assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    """A 4xx/5xx answer in the one JSON shape, naming the problem, with no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    for word in words:
        assert word in body["message"], body
    return body


def wait_items(client: httpx.Client, n: int, timeout: float = 20) -> None:
    """Wait until the server counts ``n`` items (it picks up other processes' writes within a second or so)."""
    deadline = time.monotonic() + timeout
    while client.get("/healthz").json()["items"] != n:
        assert time.monotonic() < deadline, f"the server never came to {n} items"
        time.sleep(0.2)


# --- reading ---------------------------------------------------------------------------------


def test_healthz_info_and_outliers(client, text):
    import retrieval

    assert client.get("/healthz").json() == {"status": "ok", "items": 36}
    with retrieval.open(text.path, device="cpu") as col:
        assert client.get("/info").json() == {**col.info(), "path": text.path.name}  # `aer info --json`, no path
    listing = client.get("/outliers", params={"k": 5}).json()
    scores = [h["score"] for h in listing["hits"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True) and listing["score"] == "knn"
    assert client.get("/outliers", params={"k": 3, "score": "reconstruction"}).json()["score"] == "reconstruction"
    assert_error(client.get("/outliers", params={"score": "loudest"}), 422, "score")


def test_the_openapi_page_needs_nothing_from_the_network(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "docs-assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_search_get_and_post(client):
    got = client.get("/search", params={"q": "doctor patient treatment", "k": 5}).json()
    assert set(got) == {"hits", "took_ms", "warnings"} and len(got["hits"]) == 5 and got["warnings"] == []
    assert set(got["hits"][0]) == {"id", "score", "label", "snippet", "source", "highlights"}
    assert [h["label"] for h in got["hits"]].count("medicine") >= 4
    posted = client.post("/search", json={"q": "doctor patient treatment", "k": 5}).json()
    assert [h["id"] for h in posted["hits"]] == [h["id"] for h in got["hits"]]
    like = client.post("/search", json={"like": got["hits"][0]["id"], "k": 3}).json()["hits"]
    assert len(like) == 3 and got["hits"][0]["id"] not in {h["id"] for h in like}


def test_similar_and_items(client):
    item_id = "space/space-01.txt"
    hits = client.get(f"/items/{item_id}/similar", params={"k": 4}).json()["hits"]
    assert len(hits) == 4 and item_id not in {h["id"] for h in hits}
    assert [h["label"] for h in hits].count("space") >= 3
    item = client.get(f"/items/{item_id}").json()
    assert item["id"] == item_id and item["label"] == "space" and item["snippet"] and item["thumbnail"] is None
    assert_error(client.get("/items/no/such/item"), 404, "no/such/item")
    assert_error(client.get("/items/nothing-here/similar"), 404, "nothing-here")
    assert_error(client.get(f"/items/{item_id}/thumbnail.png"), 404, "text collection")


def test_image_collection_thumbnails_and_upload_search(image):
    from PIL import Image

    with image.client() as c:
        item_id = stored_ids(image.path)[0]
        shown = c.get(f"/items/{item_id}/thumbnail.png")
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(shown.content)).size == (32, 32)
        assert c.get(f"/items/{item_id}").json()["thumbnail"].endswith("/thumbnail.png")
        red = make_images(per_class=1, seed=7)[0][1]
        hits = c.post("/search", files={"image": ("q.png", png_bytes(red), "image/png")}, data={"k": "5"}).json()
        assert [h["label"] for h in hits["hits"]].count("red") >= 4
        assert_error(c.get("/search", params={"q": "red things"}), 400, "image")


# --- writing -------------------------------------------------------------------------------------


def test_writes_without_the_token_change_nothing(client, text):
    before = stored_ids(text.path)
    items = [{"id": "new-1", "text": "orbit shuttle launch", "label": "space"}]
    assert_error(client.post("/items", json=items), 403, "token")
    assert_error(client.post("/items", json=items, headers={"Authorization": "Bearer wrong"}), 403, "wrong token")
    assert_error(client.post("/items", json=items, headers={"Authorization": f"Basic {TOKEN}"}), 403)
    assert_error(client.delete(f"/items/{before[0]}"), 403, "token")
    assert stored_ids(text.path) == before
    assert client.get("/healthz").json()["items"] == len(before)


def test_a_server_without_a_token_takes_no_writes(text, tmp_path):
    from fastapi.testclient import TestClient

    from retrieval.server import create_app

    with TestClient(create_app(text.path, device="cpu", token=None), base_url="http://localhost") as c:
        before = stored_ids(text.path)
        body = assert_error(c.post("/items", json=[{"id": "x", "text": "orbit"}], headers=AUTH), 403)
        assert "without a token" in body["message"]
        assert_error(c.delete(f"/items/{before[0]}", headers=AUTH), 403)
        assert stored_ids(text.path) == before


def test_add_update_and_delete_with_the_token(client, text):
    before = stored_ids(text.path)
    items = [{"id": "api-1", "text": "orbit shuttle launch rocket nasa moon", "label": "space"},
             {"id": "api-2", "text": "engine brake clutch gearbox"}, {"id": "api-3", "text": "   "}]  # fmt: skip
    report = client.post("/items", json=items, headers=AUTH).json()
    assert (report["added"], report["updated"], report["items"]) == (2, 0, len(before) + 2)
    assert report["rejected"] == [{"id": "api-3", "reason": "empty text"}]
    assert set(report["outlier_scores"]) == {"api-1", "api-2"}
    assert stored_ids(text.path) == sorted([*before, "api-1", "api-2"])
    assert client.get("/items/api-1").json()["source"] == "api"
    again = client.post("/items", json=[{"id": "api-1", "text": "doctor patient", "label": "medicine"}], headers=AUTH)
    assert (again.json()["added"], again.json()["updated"]) == (0, 1)
    assert client.get("/items/api-1").json()["label"] == "medicine"
    for item_id in ("api-1", "api-2"):
        assert client.delete(f"/items/{item_id}", headers=AUTH).json()["deleted"] == [item_id]
    assert_error(client.delete("/items/api-1", headers=AUTH), 404, "api-1")
    assert_error(client.get("/items/api-1"), 404)
    assert stored_ids(text.path) == before


def test_add_an_uploaded_image(image):
    with image.client() as c:
        before = stored_ids(image.path)
        green = make_images(per_class=1, seed=3)[1][1]
        files = {"image": ("g.png", png_bytes(green), "image/png")}
        report = c.post("/items", files=files, data={"id": "upload-1", "label": "green"}, headers=AUTH).json()
        assert (report["added"], report["items"]) == (1, len(before) + 1)
        assert c.get("/items/upload-1/thumbnail.png").status_code == 200
        assert_error(c.post("/items", json=[{"id": "t", "text": "words"}], headers=AUTH), 400, "image collection")
        assert c.delete("/items/upload-1", headers=AUTH).status_code == 200
        assert stored_ids(image.path) == before


def test_a_write_waits_for_another_writer_then_gets_503(client, text):
    from filelock import FileLock

    before = stored_ids(text.path)
    with FileLock(str(text.path / "write.lock")):  # as `aer add` in another process holds it
        started = time.monotonic()
        response = client.post("/items", json=[{"id": "late", "text": "orbit moon"}], headers=AUTH)
        assert time.monotonic() - started < 10
        assert_error(response, 503, "another process is writing")
        assert response.headers["retry-after"]
        assert client.get("/search", params={"q": "orbit moon"}).status_code == 200  # reads go on meanwhile
    assert stored_ids(text.path) == before


def test_another_process_writes_are_seen(client, text):
    import retrieval
    from retrieval.sources import Document

    n = client.get("/healthz").json()["items"]
    with retrieval.open(text.path, device="cpu") as col:
        col.add([Document("elsewhere-1", "orbit shuttle launch rocket", "space")])
    wait_items(client, n + 1)
    hits = client.get("/search", params={"q": "orbit shuttle launch rocket", "k": 50}).json()["hits"]
    assert "elsewhere-1" in {h["id"] for h in hits}
    with retrieval.open(text.path, device="cpu") as col:
        col.delete(["elsewhere-1"])
    wait_items(client, n)


def test_a_search_during_a_write_sees_all_of_the_batch_or_none(client, text):
    batch = 150
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        with text.client() as c:
            while not done.is_set():
                hits = c.get("/search", params={"q": "orbit shuttle", "k": 1000}).json()["hits"]
                seen.append(sum(h["id"].startswith("bulk-") for h in hits))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for round_ in range(3):
            items = [{"id": f"bulk-{round_}-{i}", "text": f"orbit shuttle moon {i}"} for i in range(batch)]
            assert client.post("/items", json=items, headers=AUTH).status_code == 200
    finally:
        done.set()
        for t in readers:
            t.join()
    assert seen and set(seen) <= {0, batch, 2 * batch, 3 * batch}, sorted(set(seen))
    import retrieval

    with retrieval.open(text.path, device="cpu") as col:  # one delete, from another process
        col.delete([i for i in stored_ids(text.path) if i.startswith("bulk-")])
    wait_items(client, len(stored_ids(text.path)))


# --- limits and bad requests ----------------------------------------------------------------------


def test_k_limits(client):
    for k in (0, 1001, -3):
        assert_error(client.get("/search", params={"q": "orbit", "k": k}), 422, "'k'")
        assert_error(client.post("/search", json={"q": "orbit", "k": k}), 422, "k")
        assert_error(client.get("/items/space/space-01.txt/similar", params={"k": k}), 422, "'k'")
        assert_error(client.get("/outliers", params={"k": k}), 422, "'k'")
    assert_error(client.get("/search", params={"q": "orbit", "k": "many"}), 422, "'k'")
    items = client.get("/healthz").json()["items"]
    assert len(client.get("/search", params={"q": "orbit", "k": 1000}).json()["hits"]) == items


def test_body_size_and_item_count_limits(client, image, text):
    before = stored_ids(text.path)
    assert_error(client.post("/search", json={"q": "orbit " * 200_000}), 413, "1 MB")
    streamed = (b"x" * 100_000 for _ in range(15))  # no Content-Length: counted as it arrives
    assert_error(client.post("/items", content=streamed, headers={**AUTH, "content-type": "application/json"}), 413)
    too_many = [{"id": f"m-{i}", "text": "orbit"} for i in range(1001)]
    assert_error(client.post("/items", json=too_many, headers=AUTH), 422, "1000")
    assert_error(client.post("/items", json=[], headers=AUTH), 422)
    with image.client() as c:
        huge = {"image": ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024), "image/png")}
        assert_error(c.post("/search", files=huge), 413, "10 MB")
    assert stored_ids(text.path) == before


def test_malformed_requests(client):
    headers = {"content-type": "application/json"}
    assert_error(client.post("/search", content=b'{"q": "orbit", "k": ', headers=headers), 400, "not valid JSON")
    assert_error(client.post("/search", content=b"", headers=headers), 400, "JSON")
    assert_error(client.post("/items", content=b"[{'id': 1}]", headers={**headers, **AUTH}), 400, "JSON")
    assert_error(client.post("/search", json={"q": "orbit", "like": "x"}), 422, "exactly one")
    assert_error(client.post("/search", json={"k": 3}), 422, "exactly one")
    assert_error(client.post("/search", json={"q": "orbit", "colour": "red"}), 422, "colour")
    assert_error(client.post("/search", json={"q": 3}), 422, "q")
    assert_error(client.post("/items", json=[{"id": "a"}], headers=AUTH), 422, "text")
    assert_error(client.post("/items", json={"id": "a", "text": "b"}, headers=AUTH), 422)
    assert_error(client.post("/search", data={"q": "orbit"}), 415, "JSON")
    assert_error(client.get("/search"), 422, "'q'")
    assert_error(client.get("/search", params={"q": "the of and"}), 400)  # no known word: QueryError
    assert_error(client.get("/no/such/route"), 404, "/docs")
    assert_error(client.put("/search"), 405)
    upload = {"image": ("q.png", b"not an image", "image/png")}
    assert_error(client.post("/search", files=upload), 400, "text collection")


def test_bad_image_uploads(image):
    before = stored_ids(image.path)
    whole = png_bytes(make_images(per_class=1)[0][1])
    with image.client() as c:
        cut, junk = whole[: len(whole) // 2], b"\x00\x01garbage" * 10
        bad = [("cut.png", cut, "truncated"), ("junk.png", junk, "not an image"), ("empty.png", b"", "empty")]
        for name, data, words in bad:
            assert_error(c.post("/search", files={"image": (name, data, "image/png")}), 400, words)
            sent = c.post("/items", files={"image": (name, data, "image/png")}, data={"id": "bad"}, headers=AUTH)
            assert_error(sent, 400, words)
        assert_error(c.post("/search", data={"k": "3"}, files={"other": ("a.png", whole, "image/png")}), 422, "image")
        no_id = c.post("/items", files={"image": ("a.png", whole, "image/png")}, headers=AUTH)
        assert_error(no_id, 422, "'id'")
    assert stored_ids(image.path) == before


def test_filters(client):
    hits = client.get("/search", params={"q": "orbit engine doctor", "k": 20, "label": "autos"}).json()["hits"]
    assert hits and {h["label"] for h in hits} == {"autos"}
    both = client.get("/search", params=[("q", "orbit engine"), ("k", 50), ("label", "autos"), ("label", "space")])
    assert {h["label"] for h in both.json()["hits"]} == {"autos", "space"}
    posted = client.post("/search", json={"q": "orbit", "k": 50, "id_prefix": "medicine/"}).json()["hits"]
    assert posted and all(h["id"].startswith("medicine/") for h in posted)
    similar = client.get("/items/space/space-01.txt/similar", params={"k": 5, "label": "medicine"}).json()["hits"]
    assert similar and {h["label"] for h in similar} == {"medicine"}

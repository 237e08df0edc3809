"""Untrusted requests to the server (issue 30), in process: every allowed id reachable at ``/items/{id}``, ids
checked and normalised, duplicates and bad labels refused, 4xx for an outlier score a collection cannot give,
507 for a full disk."""

from __future__ import annotations

from pathlib import Path

import faiss
import pytest

import retrieval

from .conftest import make_docs, write_corpus

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (needs httpx)

from retrieval.server.app import create_app  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def serve(path: Path) -> TestClient:
    return TestClient(create_app(path, token=TOKEN, device="cpu", refresh_s=0), base_url="http://localhost")


@pytest.fixture
def client(text_collection):
    with serve(text_collection) as c:
        yield c


def add(c: TestClient, *items: dict) -> dict:
    response = c.post("/items", json=list(items), headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_id_with_a_slash_is_reachable_and_not_read_as_a_route(client):
    add(client, {"id": "foo", "text": "orbit rocket launch"}, {"id": "foo/similar", "text": "engine car brake"},
        {"id": "x/thumbnail.png", "text": "doctor patient"})  # fmt: skip
    assert client.get("/items/foo%2Fsimilar").json()["id"] == "foo/similar"  # not the items like "foo"
    assert client.get("/items/x%2Fthumbnail.png").json()["id"] == "x/thumbnail.png"
    assert client.get("/items/space/space-00.txt").json()["id"] == "space/space-00.txt"  # a plain '/' still works
    hits = client.get("/items/foo/similar", params={"k": 3}).json()["hits"]
    assert len(hits) == 3 and "foo" not in [h["id"] for h in hits]
    liked = client.get("/items/foo%2Fsimilar/similar", params={"k": 50}).json()["hits"]
    assert "foo/similar" not in [h["id"] for h in liked] and "foo" in [h["id"] for h in liked]
    assert client.delete("/items/foo%2Fsimilar", headers=AUTH).json()["deleted"] == ["foo/similar"]
    assert client.get("/items/foo").status_code == 200


def test_control_characters_are_refused_and_ids_are_nfc(client):
    body = add(client, {"id": "line\nbreak", "text": "orbit"}, {"id": "cafe\u0301", "text": "orbit rocket"})
    assert body["added"] == 1
    why = "the id holds a control character ('\\n'); ids may not"
    assert body["rejected"] == [{"id": "line\\nbreak", "reason": why}]
    assert client.get("/items/caf%C3%A9").json()["id"] == "caf\u00e9"
    assert client.get("/items/cafe%CC%81").json()["id"] == "caf\u00e9"  # the NFD spelling finds it too
    assert client.get("/items/line%0Abreak").json()["message"].startswith("no item with id 'line\\nbreak'")


def test_duplicate_ids_in_one_post_are_refused(client):
    response = client.post("/items", json=[{"id": "d", "text": "orbit"}, {"id": "d", "text": "moon"}], headers=AUTH)
    assert response.status_code == 400 and "'d' is given twice" in response.json()["message"]
    response = client.post("/items", json=[{"id": "cafe\u0301", "text": "a"}, {"id": "caf\u00e9", "text": "b"}],
                           headers=AUTH)  # fmt: skip
    assert response.status_code == 400
    assert client.get("/healthz").json()["items"] == 36


def test_a_list_label_is_refused(client):
    response = client.post("/items", json=[{"id": "l", "text": "orbit", "label": ["a", "b"]}], headers=AUTH)
    assert response.status_code == 422 and "label" in response.json()["message"]
    assert client.get("/items/l").status_code == 404


def test_scores_a_collection_cannot_give_are_400(client, tmp_path, image_dir):
    orientation = client.get("/outliers", params={"score": "orientation"})
    assert orientation.status_code == 400, orientation.text
    assert "no orientation head" in orientation.json()["message"] and "thumbnail" not in orientation.json()["message"]
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image")  # does not reconstruct
    with serve(tmp_path / "i.aer") as images:
        for score in ("reconstruction", "combined", "orientation"):
            response = images.get("/outliers", params={"score": score})
            assert response.status_code == 400 and response.json()["error"] == "unavailable_score", response.text
        assert images.get("/outliers", params={"score": "knn"}).status_code == 200


def test_lsa_scores_are_400(tmp_path):
    retrieval.index_source(write_corpus(tmp_path / "corpus", make_docs()), tmp_path / "lsa.aer", encoder="lsa",
                           dim=4, device="cpu")  # fmt: skip
    with serve(tmp_path / "lsa.aer") as c:
        for score in ("reconstruction", "combined", "orientation"):
            response = c.get("/outliers", params={"score": score})
            assert response.status_code == 400, response.text


def test_a_full_disk_is_507_and_another_storage_error_503(client, text_collection, monkeypatch):
    def failing(message: str):
        def write(index, path):
            Path(path).write_bytes(b"partial")
            raise RuntimeError(f"Error in void faiss::write_index: write error in {path}: ({message})")

        return write

    for message, status in (("No space left on device", 507), ("Input/output error", 503)):
        monkeypatch.setattr(faiss, "write_index", failing(message))
        response = client.post("/items", json=[{"id": "new", "text": "orbit rocket"}], headers=AUTH)
        assert response.status_code == status, response.text
        assert message in response.json()["message"]
        assert not [p.name for p in text_collection.iterdir() if p.name.endswith((".tmp", ".new"))]

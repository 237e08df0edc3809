"""The API parts the search page and ``/docs`` lean on, in-process: ``/sample`` (the page's examples and labels)
and the bearer scheme the OpenAPI schema declares for the write routes (with the token check's answers kept)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from retrieval.server.app import create_app  # noqa: E402
from retrieval.server.routes import sample_keys  # noqa: E402

TOKEN = "test-token-0123456789"
LOCAL = "http://localhost"


def serve(path: Path, token: str | None = TOKEN) -> TestClient:
    return TestClient(create_app(path, token=token, device="cpu", refresh_s=0), base_url=LOCAL)


@pytest.fixture
def client(text_collection) -> Iterator[TestClient]:
    with serve(text_collection) as c:
        yield c


def test_openapi_declares_the_bearer_scheme_on_the_writes_only(client):
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    (name,) = [n for n, s in schemes.items() if s["type"] == "http" and s["scheme"].lower() == "bearer"]
    assert {name: []} in schema["paths"]["/items"]["post"]["security"]
    assert {name: []} in schema["paths"]["/items/{item_id}"]["delete"]["security"]
    for path, method in [("/search", "get"), ("/search", "post"), ("/info", "get"), ("/sample", "get")]:
        assert "security" not in schema["paths"][path][method], (path, method)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "writes need the server's token"),
        ({"Authorization": f"Basic {TOKEN}"}, "writes need the server's token"),
        ({"Authorization": "Bearer "}, "writes need the server's token"),
        ({"Authorization": "Bearer wrong"}, "wrong token"),
    ],
)
def test_the_token_check_answers_as_before(client, headers, words):
    answer = client.post("/items", json=[{"id": "n1", "text": "orbit moon"}], headers=headers)
    assert answer.status_code == 403 and words in answer.json()["message"]
    stored = client.get("/sample").json()["items"][0]["id"]
    assert client.delete(f"/items/{stored}", headers=headers).status_code == 403
    assert client.get(f"/items/{stored}").status_code == 200 and client.get("/healthz").json()["items"] == 36


def test_the_token_opens_writes_and_a_server_without_one_refuses_them(text_collection):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve(text_collection) as c:
        answer = c.post("/items", json=[{"id": "n1", "text": "orbit moon"}], headers=auth)
        assert answer.status_code == 200 and answer.json()["added"] == 1
    with serve(text_collection, token=None) as c:
        answer = c.post("/items", json=[{"id": "n2", "text": "orbit"}], headers=auth)
        assert answer.status_code == 403 and "writes are disabled" in answer.json()["message"]


def test_sample_gives_the_labels_in_turn_and_lists_them(client, docs):
    body = client.get("/sample", params={"n": 5}).json()
    labels = sorted({label for _, label, _ in docs})
    assert body["labels"] == labels and body["labels_total"] == len(labels)
    items = body["items"]
    assert len(items) == 5 and len({i["id"] for i in items}) == 5
    assert [i["label"] for i in items] == labels + labels[:2]  # one of each label, in label order, in turns
    known = {f"{label}/{item_id}.txt": text for item_id, label, text in docs}  # ids as the folder source names them
    assert all(i["thumbnail"] is None and known[i["id"]].startswith(i["snippet"].rstrip("…")) for i in items)
    assert all(i["snippet"] for i in items)
    assert len(client.get("/sample").json()["items"]) == 8  # the default
    for bad in (0, 51, "x"):
        assert client.get("/sample", params={"n": bad}).status_code == 422


def test_sample_keys_takes_each_label_in_turn():
    labels = {4: "b", 1: "a", 2: None, 3: "a", 0: "", 5: "c", 6: "a", 7: "b"}
    assert sample_keys(labels, 2) == [1, 4]
    assert sample_keys(labels, 5) == [1, 4, 5, 0, 3]  # a round: a, b, c, the unlabelled (None or empty); then a
    assert sample_keys(labels, 20) == [1, 4, 5, 0, 3, 7, 2, 6]
    assert sample_keys({}, 3) == [] and sample_keys({3: None, 1: None}, 1) == [1]

"""The search's fast lane (issue 35): plain ``GET`` and JSON ``POST /search`` answered by ``SearchLane`` exactly as
the FastAPI routes answer them; anything else left to the routes; off the event loop while a write is pending."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (needs httpx)

from retrieval.server import fast  # noqa: E402
from retrieval.server.app import create_app  # noqa: E402
from retrieval.server.limits import MAX_DEPTH, MAX_K  # noqa: E402

GETS = [
    {"q": "orbit rocket launch"},
    {"q": "doctor patient", "k": 5, "offset": 3},
    {"q": "engine car", "k": 20, "label": ["autos", "space"]},
    {"q": "engine", "label": "nosuchlabel"},  # an unknown label: a warning in the answer
    {"q": "orbit", "id_prefix": "space/", "mode": "codes"},
    {"like": "space/space-00.txt", "k": 4},
]
POSTS = [
    {"q": "orbit rocket launch", "k": 7},
    {"q": "clinic", "label": ["medicine"], "offset": 2},
    {"like": "autos/autos-03.txt", "k": 3, "id_prefix": "autos/"},
]


@pytest.fixture
def app(text_collection):
    return create_app(text_collection, device="cpu", refresh_s=0)


def answers(app) -> list[dict]:
    with TestClient(app, base_url="http://localhost") as c:
        got = [c.get("/search", params=params) for params in GETS] + [c.post("/search", json=b) for b in POSTS]
    assert all(r.status_code == 200 and r.headers["content-type"] == "application/json" for r in got)
    return [{**r.json(), "took_ms": None} for r in got]


def test_the_lane_answers_as_the_routes_do(app, monkeypatch):
    taken = []
    search = fast.SearchLane.search
    monkeypatch.setattr(fast.SearchLane, "search", lambda self, params: taken.append(params) or search(self, params))
    by_lane = answers(app)
    assert len(taken) == len(GETS) + len(POSTS)  # every one of them took the lane
    unknown_label = [False] * 3 + [True] + [False] * 5  # the one answer with a warning, and no hit
    assert [bool(a["warnings"]) for a in by_lane] == [not a["hits"] for a in by_lane] == unknown_label

    async def to_the_route(self, scope, receive):
        return None, receive

    monkeypatch.setattr(fast, "get_params", lambda query_string: None)
    monkeypatch.setattr(fast.SearchLane, "_posted", to_the_route)
    taken.clear()
    assert answers(app) == by_lane and not taken


def test_a_body_with_a_field_the_lane_does_not_read_is_read_again_by_the_route(app, monkeypatch):
    taken = []
    search = fast.SearchLane.search
    monkeypatch.setattr(fast.SearchLane, "search", lambda self, params: taken.append(params) or search(self, params))
    body = {"q": "engine car", "k": 20, "label": ["autos", "space"]}
    with TestClient(app, base_url="http://localhost") as c:
        by_lane = c.post("/search", json=body).json()
        monkeypatch.setattr(fast, "_POSTED", fast._POSTED - {"label"})  # as a field added to SearchBody later
        by_route = c.post("/search", json=body).json()
    assert len(taken) == 1 and by_route["hits"] == by_lane["hits"] and len(by_route["hits"]) == 20


@pytest.mark.parametrize("query", [
    b"k=5", b"q=a&like=b", b"q=", b"q=a&q=b", b"q=a&colour=red", b"q=a&k=0", b"q=a&k=05", b"q=a&k=+5",
    b"q=a&k=%d" % (MAX_K + 1), b"q=a&k=1000&offset=%d" % (MAX_DEPTH - 999), b"q=a&mode=fuzzy",
    b"like=x&mode=keyword", b"q=a&id_prefix=", b"q=a&offset=-1",
])  # fmt: skip
def test_anything_but_a_plain_query_is_left_to_the_route(query):
    assert fast.get_params(query) is None


def test_a_plain_query_is_read_as_the_route_reads_it():
    found = fast.get_params(b"q=caf%C3%A9+noir&k=1000&offset=9000&label=a&label=&id_prefix=x%2F&mode=hybrid")
    assert found == {"query": "café noir", "like": None, "k": 1000, "offset": 9000, "mode": "hybrid",
                     "where": {"label": ["a", ""], "id_prefix": "x/"}}  # fmt: skip
    assert fast.get_params(b"like=a%2Fb") == {"query": None, "like": "a/b", "k": 10, "offset": 0, "mode": None,
                                              "where": None}  # fmt: skip


def test_errors_in_the_lane_get_the_apps_answers(app):
    with TestClient(app, base_url="http://localhost") as c:
        no_word = c.get("/search", params={"q": "the of and"})
        missing = c.post("/search", json={"like": "no/such/item"})
        typed = c.post("/search", content=b"q=orbit", headers={"content-type": "text/plain"})
    assert no_word.status_code == 400 and no_word.json()["error"] == "bad_query"
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert typed.status_code == 415 and typed.json()["error"] == "unsupported_media_type"


def test_a_search_while_a_write_is_pending_runs_in_the_thread_pool(app, monkeypatch):
    hops = []

    async def pool(func, *args):
        hops.append(func)
        return func(*args)

    monkeypatch.setattr(fast, "run_in_threadpool", pool)
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/search", params={"q": "orbit"}).status_code == 200
        assert not hops  # nothing pending: on the event loop
        monkeypatch.setattr(app.state.served, "write_pending", lambda: True)
        assert len(c.get("/search", params={"q": "orbit"}).json()["hits"]) == 10
    assert len(hops) == 1

"""``GET /metrics`` (issue 35): Prometheus' text format, read back with prometheus-client's own parser; the
counters move after a search, a write and an error; routes are templates, never raw paths."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (needs httpx)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from retrieval.server.app import create_app  # noqa: E402
from retrieval.server.metrics import exposition  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://localhost"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a ``/metrics`` text by (name, labels), parsed by the Prometheus client's parser."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def client(text_collection):
    with TestClient(create_app(text_collection, token=TOKEN, device="cpu", refresh_s=0), base_url=LOCAL) as c:
        yield c


def scrape(client: TestClient) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def test_counters_move_after_a_search_a_write_and_an_error(client):
    name = "c.aer"
    before = scrape(client)
    assert value(before, "aer_items", collection=name) == 36
    assert value(before, "aer_index_bytes", collection=name) > 0

    assert client.get("/search", params={"q": "orbit rocket", "k": 3}).status_code == 200
    assert client.post("/search", json={"q": "doctor patient", "k": 3}).status_code == 200
    assert client.get("/items/space/space-00.txt/similar", params={"k": 2}).status_code == 200
    added = client.post("/items", json=[{"id": "new-1", "text": "orbit moon lander"}], headers=AUTH)
    assert added.status_code == 200
    assert client.get("/items/no-such-item").status_code == 404
    assert client.get("/search", params={"q": "orbit", "k": 0}).status_code == 422
    assert client.get("/search", headers={"host": "evil.example"}).status_code == 400  # refused before routing
    after = scrape(client)

    def moved(metric: str, **labels: str) -> float:
        return value(after, metric, collection=name, **labels) - value(before, metric, collection=name, **labels)

    assert moved("aer_searches_total") == 3
    assert moved("aer_writes_total", kind="add") == 1
    assert moved("aer_items") == 1
    assert moved("aer_http_requests_total", route="/search", method="GET", status="200") == 1
    assert moved("aer_http_requests_total", route="/search", method="POST", status="200") == 1
    assert moved("aer_http_request_duration_seconds_count", route="/search", method="GET") == 3  # 200, 422, 400
    assert moved("aer_http_requests_total", route="/items/{item_id}", method="GET", status="404") == 1
    assert moved("aer_http_errors_total", status="404", code="not_found") == 1
    assert moved("aer_http_errors_total", status="422", code="invalid_request") == 1
    assert moved("aer_http_errors_total", status="400", code="bad_host") == 1
    assert not any("no-such-item" in str(labels) or "space-00" in str(labels) for _, labels in after)


def test_an_unexpected_error_is_counted_as_the_500_it_is_answered(text_collection):
    app = create_app(text_collection, device="cpu", refresh_s=0)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    app.state.served._col.labels = broken
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        assert c.get("/labels").status_code == 500
        found = samples(c.get("/metrics").text)
    assert value(found, "aer_http_errors_total", collection="c.aer", status="500", code="internal_error") == 1
    assert value(found, "aer_http_requests_total", collection="c.aer", route="/labels", method="GET",
                 status="500") == 1  # fmt: skip


def test_several_apps_expose_one_text_with_each_collection_labelled(text_collection, tmp_path):
    import shutil

    other = shutil.copytree(text_collection, tmp_path / "other.aer")
    apps = [create_app(path, device="cpu", refresh_s=0) for path in (text_collection, other)]
    with TestClient(apps[0], base_url=LOCAL) as first, TestClient(apps[1], base_url=LOCAL) as second:
        first.get("/search", params={"q": "orbit"})
        second.get("/search", params={"q": "orbit"})
        second.get("/search", params={"q": "engine"})
        text = exposition(app.state.metrics for app in apps).decode()
    names = [family.name for family in text_string_to_metric_families(text)]
    assert len(names) == len(set(names))  # each metric once, with both collections' series
    found = samples(text)
    assert value(found, "aer_searches_total", collection="c.aer") == 1
    assert value(found, "aer_searches_total", collection="other.aer") == 2

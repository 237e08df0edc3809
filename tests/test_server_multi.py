"""Several collections behind one server (issue 35): each under ``/c/{name}/`` with its own items and every route,
``GET /collections`` listing them, the one-collection routes at ``/`` unchanged; a name clash or a collection that
cannot be opened stops the server before it starts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
import uvicorn  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from retrieval.errors import CollectionError, InvalidParameterError  # noqa: E402
from retrieval.server import create_app, create_server_app  # noqa: E402
from retrieval.server.app import STATIC  # noqa: E402

from .conftest import make_images  # noqa: E402
from .test_server_api import build_images, build_text, png_bytes  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://localhost"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """A text collection (the autoencoder, FAST_AE) and an image one (pixels), built once for the module."""
    root = tmp_path_factory.mktemp("multi")
    return {"text": build_text(root), "images": build_images(root)}


@pytest.fixture
def pair(tmp_path: Path, built) -> dict[str, Path]:
    """Private copies, free to change, named ``news.aer`` and ``photos.aer``."""
    return {"news": Path(shutil.copytree(built["text"], tmp_path / "news.aer")),
            "photos": Path(shutil.copytree(built["images"], tmp_path / "photos.aer"))}  # fmt: skip


def serve(paths, **options) -> TestClient:
    app = create_server_app(paths, token=TOKEN, device="cpu", refresh_s=0, **options)
    return TestClient(app, base_url=LOCAL, raise_server_exceptions=False)


@pytest.fixture
def both(pair) -> Iterator[TestClient]:
    with serve(list(pair.values())) as c:
        yield c


def test_collections_lists_each_with_its_prefix(both):
    listed = both.get("/collections").json()["collections"]
    assert [c["name"] for c in listed] == ["news", "photos"]
    news, photos = listed
    assert (news["modality"], news["items"], news["url"]) == ("text", 36, "/c/news/")
    assert (photos["modality"], photos["items"], photos["url"]) == ("image", 30, "/c/photos/")
    assert news["encoder"].startswith("ae(") and photos["encoder"].startswith("pixels")
    for c in listed:  # each prefix answers as that collection
        assert both.get(c["url"] + "healthz").json() == {"status": "ok", "items": c["items"]}


def test_each_collection_answers_under_its_prefix_with_its_own_items(both):
    hits = both.get("/c/news/search", params={"q": "orbit rocket launch", "k": 5}).json()["hits"]
    assert len(hits) == 5 and all(h["id"].endswith(".txt") for h in hits)
    assert both.get("/c/news/labels").json()["total"] == 3
    assert {entry["label"] for entry in both.get("/c/photos/labels").json()["labels"]} == {"red", "green", "stripes"}
    # the image collection is another one: searched by text it says so; a text id is not among its items
    refused = both.get("/c/photos/search", params={"q": "orbit"})
    assert refused.status_code == 400 and "image collection" in refused.json()["message"]
    text_id = hits[0]["id"]
    assert both.get(f"/c/news/items/{text_id}").json()["id"] == text_id
    assert both.get(f"/c/photos/items/{text_id}").status_code == 404
    sample = both.get("/c/photos/sample", params={"n": 3}).json()["items"]
    image_id = sample[0]["id"]
    thumb = sample[0]["thumbnail"]
    assert thumb.startswith("/c/photos/items/")  # the address under the prefix
    png = both.get(thumb)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    like = both.get(f"/c/photos/items/{image_id}/similar", params={"k": 3}).json()["hits"]
    assert len(like) == 3 and all(h["id"].endswith(".png") for h in like)
    upload = both.post("/c/photos/search", files={"image": ("q.png", png_bytes(make_images()[0][1]), "image/png")},
                       data={"k": "3"})  # fmt: skip
    assert upload.status_code == 200 and upload.json()["hits"][0]["label"] == "red"


def test_writes_go_to_their_collection_only(both):
    added = both.post("/c/news/items", json=[{"id": "new-1", "text": "orbit rocket moon"}], headers=AUTH)
    assert added.status_code == 200 and added.json()["items"] == 37
    assert both.get("/c/news/items/new-1").status_code == 200
    assert both.get("/c/photos/healthz").json()["items"] == 30
    assert both.post("/c/news/items", json=[{"id": "x", "text": "y"}]).status_code == 403  # no token
    assert both.delete("/c/news/items/new-1", headers=AUTH).json()["items"] == 36


def test_the_page_and_docs_work_under_a_prefix(both):
    moved = both.get("/c/news", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/c/news/"
    page = both.get("/c/news/")
    assert page.status_code == 200 and 'src="static/app.js"' in page.text
    assert both.get("/c/news/static/app.js").status_code == 200
    docs = both.get("/c/photos/docs").text
    assert '"openapi.json"' in docs.replace("'", '"') and "docs-assets/swagger-ui-bundle.js" in docs
    assert both.get("/c/photos/docs-assets/swagger-ui-bundle.js").status_code == 200
    schema = both.get("/c/photos/openapi.json").json()
    assert schema["servers"] == [{"url": "/c/photos"}] and "/search" in schema["paths"]
    missing = both.get("/c/news/nothing").json()["message"]
    assert "/c/news/docs" in missing
    listing = both.get("/")
    assert listing.status_code == 200 and 'href="c/news/"' in listing.text and 'href="c/photos/"' in listing.text


def test_the_page_asks_with_relative_addresses():
    """The page's requests resolve below the address it was loaded from, so it works under /c/{name}/."""
    html = (STATIC / "index.html").read_text()
    assert not re.search(r'(?:href|src)="/', html)
    for js in ("app.js", "refine.js"):
        code = (STATIC / js).read_text()
        assert not re.search(r"""\b(?:api|fetch|send|showImage)\((?:[^,)]*,\s*)?[`"']/""", code), js


def test_unknown_collections_and_paths_are_json_404s(both):
    for path in ("/c/nope/search", "/c/nope", "/search", "/items/x"):
        response = both.get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path
    assert "no collection named 'nope'" in both.get("/c/nope/search").json()["message"]
    assert "news, photos" in both.get("/c/nope/search").json()["message"]


def test_host_check_and_body_limit_apply_under_every_prefix_and_at_the_top(both):
    evil = {"Host": "attacker.example"}
    for path in ("/collections", "/", "/c/news/info", "/c/photos/", "/c/nope/x"):
        response = both.get(path, headers=evil)
        assert response.status_code == 400 and response.json()["error"] == "bad_host", path
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    for path in ("/c/news/search", "/c/news/items"):
        response = both.post(path, content=big, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 413, path


def test_one_collection_keeps_its_routes_at_the_root(pair):
    path = pair["news"]
    with serve([path]) as one, TestClient(create_app(path, token=TOKEN, device="cpu", refresh_s=0),
                                          base_url=LOCAL) as alone:  # fmt: skip
        for route in ("/healthz", "/info", "/labels", "/sample?n=3", "/items/space/space-00.txt",
                      "/search?q=orbit+rocket&k=4", "/items/space/space-00.txt/similar?k=3", "/outliers?k=3",
                      "/openapi.json"):  # fmt: skip
            got, expected = one.get(route).json(), alone.get(route).json()
            got.pop("took_ms", None), expected.pop("took_ms", None)
            assert got == expected, route
        assert one.get("/").text == alone.get("/").text  # the search page, not a list
        prefixed = one.get("/c/news/search", params={"q": "orbit rocket", "k": 4}).json()["hits"]
        assert prefixed == alone.get("/search", params={"q": "orbit rocket", "k": 4}).json()["hits"]
        assert one.get("/collections").json()["collections"][0]["url"] == "/c/news/"
        assert one.post("/items", json=[{"id": "n", "text": "orbit"}], headers=AUTH).json()["items"] == 37
        assert one.get("/c/news/items/n").status_code == 200


def test_a_mapping_names_the_collections(pair):
    with serve({"a": pair["news"], "b-2": pair["photos"]}) as c:
        assert [x["name"] for x in c.get("/collections").json()["collections"]] == ["a", "b-2"]
        assert c.get("/c/b-2/healthz").json()["items"] == 30
    with pytest.raises(InvalidParameterError, match="'a/b'"):
        create_server_app({"a/b": pair["news"]})


def test_a_name_clash_or_a_collection_that_cannot_open_stops_the_server(pair, tmp_path):
    other = tmp_path / "elsewhere" / "news.aer"
    shutil.copytree(pair["news"], other)
    with pytest.raises(InvalidParameterError, match=r"two collections would be served as 'news'"):
        create_server_app([pair["news"], other])
    (tmp_path / "broken.aer").mkdir()
    with pytest.raises(CollectionError, match=r"cannot serve the collection 'broken'"):
        create_server_app([pair["news"], tmp_path / "broken.aer"], device="cpu")
    with pytest.raises(InvalidParameterError, match="one collection"):
        create_server_app(list(pair.values()), db="sqlite:///x.db")


def test_aer_serve_several_collections(pair, tmp_path, monkeypatch):
    from cli import serve as serve_module
    from cli.main import main

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
    monkeypatch.setattr(serve_module, "check_port", lambda host, port: None)
    result = CliRunner().invoke(main, ["serve", *map(str, pair.values()), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "/c/news/" in result.output and "/c/photos/" in result.output and "/collections" in result.output
    with TestClient(started.pop("app"), base_url=LOCAL) as c:
        assert [x["name"] for x in c.get("/collections").json()["collections"]] == ["news", "photos"]
        assert c.get("/c/photos/healthz").json()["items"] == 30
    started.clear()
    (tmp_path / "broken.aer").mkdir()
    bad = CliRunner().invoke(main, ["serve", str(pair["news"]), str(tmp_path / "broken.aer"), "--device", "cpu"])
    assert bad.exit_code == 1 and "cannot serve the collection 'broken'" in bad.output
    assert not started  # the server never started

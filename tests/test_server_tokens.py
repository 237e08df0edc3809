"""A read token and a write token (issue 35): with a read token set, every read needs it or the write token;
writes need the write token, and the read token there is a 403 that says so; the page and ``/docs`` stay open."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
import uvicorn  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from retrieval.errors import InvalidParameterError  # noqa: E402
from retrieval.server import create_app, create_server_app  # noqa: E402
from retrieval.server.auth import ReadCheck, token_from  # noqa: E402

from .live_server import serve_in_thread  # noqa: E402

WRITE = "write-token-0123456789"
READ = "read-token-9876543210"
LOCAL = "http://localhost"
SENT = {"none": {}, "read": {"Authorization": f"Bearer {READ}"}, "write": {"Authorization": f"Bearer {WRITE}"},
        "wrong": {"Authorization": "Bearer not-the-token"}}  # fmt: skip

# (read token configured, token sent) -> status of a read route, status of a write route
MATRIX = {
    (False, "none"): (200, 403),
    (False, "read"): (200, 403),  # with no read token set, READ is just a wrong write token
    (False, "write"): (200, 200),
    (False, "wrong"): (200, 403),
    (True, "none"): (401, 401),
    (True, "read"): (200, 403),
    (True, "write"): (200, 200),
    (True, "wrong"): (401, 401),
}


def serve(path: Path, reads: str | None) -> TestClient:
    app = create_server_app([path], token=WRITE, read_token=reads, device="cpu", refresh_s=0)
    return TestClient(app, base_url=LOCAL, raise_server_exceptions=False)


@pytest.fixture(params=[False, True], ids=["no-read-token", "read-token"])
def configured(request, text_collection) -> Iterator[tuple[bool, TestClient]]:
    with serve(text_collection, READ if request.param else None) as c:
        yield request.param, c


@pytest.mark.parametrize("sent", list(SENT))
def test_token_matrix(configured, sent):
    has_read_token, c = configured
    read_status, write_status = MATRIX[has_read_token, sent]
    headers = SENT[sent]
    for path in ("/search?q=orbit&k=3", "/c/c/search?q=orbit&k=3"):  # at the root and under the prefix
        response = c.get(path, headers=headers)
        assert response.status_code == read_status, (path, response.text)
    response = c.post("/items", json=[{"id": f"new-{sent}", "text": "orbit rocket"}], headers=headers)
    assert response.status_code == write_status, response.text
    present = c.get(f"/items/new-{sent}", headers=SENT["write"]).status_code == 200
    assert present == (write_status == 200)  # a refused write changed nothing
    if read_status == 401:
        assert response.json()["error"] == "unauthorized"
        assert c.get("/search?q=orbit", headers=headers).headers["www-authenticate"] == "Bearer"
    if has_read_token and sent == "read":  # the read token on a write: refused, and told why
        assert "read token" in response.json()["message"] and "write token" in response.json()["message"]


def test_every_read_needs_the_token_and_the_page_stays_open(text_collection):
    with serve(text_collection, READ) as c:
        reads = ["/healthz", "/info", "/labels", "/sample", "/outliers?k=2", "/items/space/space-00.txt",
                 "/items/space/space-00.txt/similar", "/search?q=orbit", "/collections", "/c/c/info"]  # fmt: skip
        for path in reads:
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=SENT["read"]).status_code == 200, path
        assert c.post("/search", json={"q": "orbit"}).status_code == 401
        assert c.post("/search", json={"q": "orbit"}, headers=SENT["read"]).status_code == 200
        for path in ("/", "/static/app.js", "/docs", "/openapi.json", "/docs-assets/swagger-ui.css", "/c/c/",
                     "/c/c/static/style.css", "/c/c/docs"):  # fmt: skip
            assert c.get(path).status_code == 200, path
        assert "orbit" not in c.get("/").text  # the page holds no item


def test_a_route_added_later_is_behind_the_read_token(text_collection):
    """The gate refuses by default: every GET route of the app but the page's and the docs' needs the token."""
    app = create_app(text_collection, token=WRITE, read_token=READ, device="cpu", refresh_s=0)
    app.add_api_route("/later", lambda: {"secret": 1}, methods=["GET"])
    with TestClient(app, base_url=LOCAL) as c:
        listed = c.get("/openapi.json").json()["paths"]
        routes = [path for path, operations in listed.items() if "get" in operations]
        assert "/later" in routes and "/search" in routes and "/items/{item_id}/similar" in routes
        for path in routes:
            concrete = path.replace("{item_id}", "space/space-00.txt")
            assert c.get(concrete).status_code == 401, path
            assert c.get(concrete, headers=SENT["read"]).status_code != 401, path


def test_docs_declare_the_bearer_scheme_for_reads_only_when_they_need_it(text_collection):
    for reads, expected in ((None, False), (READ, True)):
        app = create_app(text_collection, token=WRITE, read_token=reads, device="cpu", refresh_s=0)
        with TestClient(app, base_url=LOCAL) as c:
            paths = c.get("/openapi.json").json()["paths"]
        assert ("security" in paths["/search"]["get"]) is expected
        assert "security" in paths["/items"]["post"]  # the writes, always


def test_the_read_token_must_differ_from_the_write_token(text_collection):
    with pytest.raises(InvalidParameterError, match="must differ"):
        create_app(text_collection, token=WRITE, read_token=WRITE)
    with pytest.raises(InvalidParameterError, match="must differ"):
        ReadCheck(WRITE, WRITE)


def test_a_read_token_with_no_write_token_serves_read_only(text_collection):
    with TestClient(create_app(text_collection, read_token=READ, device="cpu", refresh_s=0), base_url=LOCAL) as c:
        assert c.get("/healthz").status_code == 401
        assert c.get("/healthz", headers=SENT["read"]).status_code == 200
        refused = c.post("/items", json=[{"id": "n", "text": "orbit"}], headers=SENT["read"])
        assert refused.status_code == 403 and "writes are disabled" in refused.json()["message"]


def test_several_collections_share_the_tokens(tmp_path, built_text):
    import shutil

    paths = [Path(shutil.copytree(built_text, tmp_path / name)) for name in ("a.aer", "b.aer")]
    app = create_server_app(paths, token=WRITE, read_token=READ, device="cpu", refresh_s=0)
    with TestClient(app, base_url=LOCAL) as c:
        assert c.get("/collections").status_code == 401
        assert c.get("/").status_code == 200 and "a.aer" not in c.get("/").text  # names withheld without a token
        assert c.get("/c/a", follow_redirects=False).status_code == 308  # the redirect to the page: open
        assert [x["name"] for x in c.get("/collections", headers=SENT["read"]).json()["collections"]] == ["a", "b"]
        for name in ("a", "b"):
            assert c.get(f"/c/{name}/labels").status_code == 401
            assert c.get(f"/c/{name}/labels", headers=SENT["write"]).status_code == 200
            assert c.post(f"/c/{name}/items", json=[{"id": "n", "text": "x"}], headers=SENT["read"]).status_code == 403


def test_token_files_and_environment(tmp_path, monkeypatch):
    given = tmp_path / "read.token"
    given.write_text(f"  {READ}  \nsecond line ignored\n")
    assert token_from(given, "AER_READ_TOKEN") == READ
    monkeypatch.setenv("AER_READ_TOKEN", "from-env")
    assert token_from(None, "AER_READ_TOKEN") == "from-env"
    assert token_from(given, "AER_READ_TOKEN") == READ  # the file first
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InvalidParameterError, match="empty"):
        token_from(tmp_path / "empty", "AER_READ_TOKEN")


def test_aer_serve_takes_the_read_token_from_a_file_or_the_environment(text_collection, tmp_path, monkeypatch):
    from cli import serve as serve_module
    from cli.main import main

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
    monkeypatch.setattr(serve_module, "check_port", lambda host, port: None)
    monkeypatch.setenv("AER_API_TOKEN", WRITE)
    (tmp_path / "read.token").write_text(READ + "\n")
    for args, env in ((["--read-token-file", str(tmp_path / "read.token")], None), ([], READ)):
        if env:
            monkeypatch.setenv("AER_READ_TOKEN", env)
        result = CliRunner().invoke(main, ["serve", str(text_collection), "--device", "cpu", *args])
        assert result.exit_code == 0, result.output
        assert "reads need the read token" in result.output
        with TestClient(started["app"], base_url=LOCAL) as c:
            assert c.get("/healthz").status_code == 401
            assert c.get("/healthz", headers=SENT["read"]).status_code == 200
            assert c.post("/items", json=[{"id": "n", "text": "x"}], headers=SENT["read"]).status_code == 403
    monkeypatch.setenv("AER_READ_TOKEN", WRITE)
    same = CliRunner().invoke(main, ["serve", str(text_collection), "--device", "cpu"])
    assert same.exit_code == 1 and "must differ" in same.output


# --- the page, in headless Chromium ---------------------------------------------------------------------------


@contextlib.contextmanager
def live(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; its base URL."""
    with serve_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.browser
def test_the_page_under_a_prefix_asks_once_for_the_read_token(tmp_path, built_text):
    from .test_server_api import build_images
    from .test_server_page import CHROMIUM, FLAGS, wait_js

    sync_api = pytest.importorskip("playwright.sync_api")
    photos = build_images(tmp_path)
    app = create_server_app({"news": built_text, "photos": photos}, token=WRITE, read_token=READ, device="cpu",
                            refresh_s=0)  # fmt: skip
    with live(app) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            asked = []
            page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept(READ)))
            page.goto(f"{url}/c/photos/?like=" + "red%2F000.png")
            wait_js(page, "document.querySelector('#info-summary').textContent.includes('30 image items')")
            wait_js(page, "document.querySelectorAll('.hit img').length > 0")
            wait_js(page, "[...document.querySelectorAll('.hit img')].every(i => i.complete && i.naturalWidth == 32)")
            sources = page.eval_on_selector_all(".hit img", "nodes => nodes.map(n => n.src)")
            assert all(src.startswith("blob:") for src in sources)  # fetched with the token
            assert len(asked) == 1 and "token" in asked[0]  # once, though several requests were refused
            assert page.evaluate("sessionStorage.getItem('aer-token')") == READ
            page.goto(f"{url}/c/news/?q=orbit")  # the same server: the token is kept, nothing asked
            wait_js(page, "document.querySelectorAll('.hit').length > 0")
            assert len(asked) == 1
        finally:
            browser.close()

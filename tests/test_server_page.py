"""The search page in headless Chromium (Debian's ``chromium``, driven by Playwright) against a live server."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import make_images
from .test_server_api import Live, png_bytes, serving

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
pytestmark = pytest.mark.browser

if CHROMIUM is None:
    pytest.skip("no chromium binary (apt-get install chromium; .ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def lives(tmp_path_factory) -> Iterator[dict[str, Live]]:
    with serving(tmp_path_factory.mktemp("page")) as found:
        yield found


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, viewport: dict | None = None):
    page = browser.new_page(viewport=viewport or {"width": 1100, "height": 800})
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.goto(url)
    wait_js(page, "document.querySelector('#info-summary').textContent.includes('items')")
    return page


def wait_js(page, expression: str, timeout: float = 20) -> None:
    """Wait until ``expression`` is true in the page (``wait_for_function`` evaluates strings with eval(),
    which the page's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


def hit_ids(page) -> list[str]:
    return page.eval_on_selector_all(".hit", "nodes => nodes.map(n => n.dataset.id)")


def test_type_a_query_see_hits_then_more_like_this(browser, lives, tmp_path):
    page = open_page(browser, lives["text"].url + "/")
    assert "36 text items" in page.text_content("#info-summary")
    page.fill("#q", "orbit shuttle launch rocket")
    page.press("#q", "Enter")
    page.wait_for_selector(".hit")
    first = hit_ids(page)
    labels = page.eval_on_selector_all(".hit .label", "nodes => nodes.map(n => n.textContent)")
    assert labels[:3] == ["space"] * 3
    assert "q=orbit" in page.url  # the search is in the address: it can be linked
    page.screenshot(path=str(tmp_path / "search.png"))
    page.click(".hit .more")  # "more like this" on the first hit
    wait_js(page, "document.querySelector('#query-title').textContent.startsWith('More like')")
    wait_js(page, f"document.querySelector('.hit') && document.querySelector('.hit').dataset.id !== {first[0]!r}")
    assert "like=" in page.url and first[0] not in hit_ids(page)
    page.screenshot(path=str(tmp_path / "like.png"))
    page.go_back()
    wait_js(page, "document.querySelector('#q').value.startsWith('orbit')")
    page.wait_for_selector(".hit")
    page.screenshot(path="/tmp/aer-page.png", full_page=False)
    assert not page.problems


def test_a_linked_query_at_phone_width(browser, lives, tmp_path):
    page = open_page(browser, lives["text"].url + "/?q=doctor+patient+treatment&k=10", PHONE)
    page.wait_for_selector(".hit")
    assert len(hit_ids(page)) == 10 and page.input_value("#q") == "doctor patient treatment"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than a phone
    page.screenshot(path=str(tmp_path / "phone.png"))
    page.click("#nav-outliers")
    wait_js(page, "document.querySelector('#query-title').textContent.includes('least typical')")
    page.wait_for_selector(".hit")
    assert "view=outliers" in page.url
    page.screenshot(path="/tmp/aer-page-phone.png")
    assert not page.problems


def test_image_collection_grid_upload_and_errors(browser, lives, tmp_path):
    page = open_page(browser, lives["image"].url + "/")
    assert page.is_visible("#drop")
    upload = tmp_path / "red.png"
    upload.write_bytes(png_bytes(make_images(per_class=1, seed=5)[0][1]))
    page.set_input_files("#file", str(upload))  # the file picker
    page.wait_for_selector(".hits.grid .hit img")
    wait_js(page, "[...document.querySelectorAll('.hit img')].every(i => i.complete && i.naturalWidth == 32)")
    labels = page.eval_on_selector_all(".hit .label", "nodes => nodes.map(n => n.textContent)")
    assert labels[:3] == ["red"] * 3
    page.click(".hit .more")
    wait_js(page, "document.querySelector('#query-title').textContent.startsWith('More like')")
    page.screenshot(path=str(tmp_path / "grid.png"))
    bad = tmp_path / "cut.png"
    bad.write_bytes(upload.read_bytes()[: len(upload.read_bytes()) // 2])
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#status.bad")
    assert "truncated" in page.text_content("#status")
    page.screenshot(path="/tmp/aer-page-grid.png")
    assert not page.problems

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


def open_page(browser, url: str, viewport: dict | None = None, color_scheme: str = "light"):
    page = browser.new_page(viewport=viewport or {"width": 1100, "height": 800}, color_scheme=color_scheme)
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


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent.trim())")


def focused(page) -> str:
    """What has the keyboard focus: ``#ID``, ``hit:ID`` for a result, else the tag name."""
    return page.evaluate(
        "(() => { const a = document.activeElement;"
        " return a.id ? '#' + a.id : a.classList.contains('hit') ? 'hit:' + a.dataset.id : a.tagName; })()"
    )


def searches(page) -> list[str]:
    """The API searches the page asks for from now on (their addresses), as a list that grows."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/search" in r.url or "/similar" in r.url else None)
    return seen


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
    marked = {m.lower() for m in texts(page, ".hit .snippet mark")}  # the query's words, highlighted
    assert marked and marked <= {"orbit", "shuttle", "launch", "rocket"}, marked
    page.screenshot(path=str(tmp_path / "search.png"))
    page.click(".hit .more")  # "more like this" on the first hit
    wait_js(page, "document.querySelector('#query-title').textContent.startsWith('More like')")
    wait_js(page, f"document.querySelector('.hit') && document.querySelector('.hit').dataset.id !== {first[0]!r}")
    assert "like=" in page.url and first[0] not in hit_ids(page)
    # the item is a chip beside the box, not text in it: Search must not look for "space/space-03.txt" as words
    assert page.input_value("#q") == "" and page.is_visible("#like")
    assert page.text_content("#like-id") == first[0]
    asked = searches(page)
    page.click("#go")
    wait_js(page, "document.querySelector('#status').textContent.includes(' ms')")
    assert asked and all("q=" not in url for url in asked) and "/similar" in asked[-1]
    assert f"like={first[0].replace('/', '%2F')}" in page.url and first[0] not in hit_ids(page)
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


def test_the_empty_state_lists_examples_and_labels(browser, lives):
    page = open_page(browser, lives["text"].url + "/")
    page.wait_for_selector("#empty:not([hidden]) #labels .label")
    assert texts(page, "#labels .label") == ["autos", "medicine", "space"]
    assert page.text_content("#labels-count") == "(3)"
    examples = texts(page, "#examples .example .id")  # one item per label first: autos, medicine, space, ...
    assert len(examples) == 6 and [e.split("/")[0] for e in examples[:3]] == ["autos", "medicine", "space"]
    page.wait_for_selector("#try .try")
    # the labels are not in this toy corpus's vocabulary: the example queries are the items' own words instead
    tries = texts(page, "#try .try")
    assert len(tries) == 5 and all(t.isalpha() and len(t) >= 4 for t in tries) and page.is_visible(".keys")
    assert not set(tries) & {"autos", "medicine", "space"}
    page.click("#try .try:nth-child(3)")  # the space item's word
    page.wait_for_selector(".hit")
    assert f"q={tries[2]}" in page.url and page.is_hidden("#empty") and not page.is_visible("#status.bad")
    assert texts(page, ".hit .label")[:3] == ["space"] * 3
    page.go_back()
    page.wait_for_selector("#empty:not([hidden])")
    page.click("#examples .example a")  # an example item: more like it
    wait_js(page, "document.querySelector('#query-title').textContent.startsWith('More like')")
    assert "like=" in page.url and page.is_visible("#like") and page.input_value("#q") == ""
    image = open_page(browser, lives["image"].url + "/")
    image.wait_for_selector("#examples.grid .example img")
    assert texts(image, "#labels .label") == ["green", "red", "stripes"] and image.is_hidden("#try-block")
    assert not page.problems and not image.problems


def test_the_keyboard_slash_arrows_enter_escape(browser, lives):
    page = open_page(browser, lives["text"].url + "/")
    assert focused(page) == "#q"  # autofocus
    page.click("h2")  # away from the box
    assert focused(page) != "#q"
    page.keyboard.press("/")
    assert focused(page) == "#q" and page.input_value("#q") == ""  # focused, not typed
    page.keyboard.type("orbit/launch")  # in the box, "/" is a character like any other
    assert page.input_value("#q") == "orbit/launch"
    page.fill("#q", "orbit shuttle launch")
    page.press("#q", "Enter")
    page.wait_for_selector(".hit")
    ids = hit_ids(page)
    page.keyboard.press("ArrowDown")
    assert focused(page) == f"hit:{ids[0]}"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert focused(page) == f"hit:{ids[2]}"
    page.keyboard.press("ArrowUp")
    assert focused(page) == f"hit:{ids[1]}"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Escape")
    assert focused(page) == "#q"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # more like the one in focus
    wait_js(page, "document.querySelector('#query-title').textContent.startsWith('More like')")
    assert f"like={ids[1].replace('/', '%2F')}" in page.url and page.text_content("#like-id") == ids[1]
    page.wait_for_selector(f".hit:not([data-id='{ids[1]}'])")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")  # above the first hit: back in the box
    assert focused(page) == "#q"
    assert not page.problems


@pytest.mark.parametrize(("score", "used", "says", "never"), [
    (None, "knn", "nearest neighbours", "rebuilds"),  # auto: knn for an encoder without the orientation head
    ("reconstruction", "reconstruction", "rebuilds", "neighbours"),
    ("combined", "combined", "rebuilds", None),
])  # fmt: skip
def test_the_outliers_caption_names_the_score_used(browser, lives, score, used, says, never):
    url = lives["text"].url + "/?view=outliers" + (f"&score={score}" if score else "")
    page = open_page(browser, url)
    wait_js(page, "document.querySelector('#status').textContent.includes(' ms')")
    caption, line = page.text_content("#query-text"), page.text_content("#status")
    assert f"{used} score" in caption and f"by {used} score" in line and says in caption
    assert never is None or never not in caption
    assert page.input_value("#score") == (score or "auto")
    if score is None:
        page.select_option("#score", "reconstruction")
        wait_js(page, "document.querySelector('#status').textContent.includes('by reconstruction score')")
        assert "score=reconstruction" in page.url and "rebuilds" in page.text_content("#query-text")
    assert not page.problems


def test_dark_mode_follows_the_system(browser, lives, tmp_path):
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, lives["text"].url + "/?q=orbit+launch&k=10", color_scheme=scheme)
        page.wait_for_selector(".hit")
        colours[scheme] = page.evaluate(
            "[document.documentElement, document.querySelector('.hit'), document.querySelector('#q')]"
            ".map(n => getComputedStyle(n).backgroundColor + ' ' + getComputedStyle(n).color)"
        )
        page.screenshot(path=str(tmp_path / f"{scheme}.png"))
        assert not page.problems
    assert all(light != dark for light, dark in zip(colours["light"], colours["dark"])), colours
    lightness = [sum(map(int, c.split(")")[0].split("(")[1].split(",")[:3])) for c in (colours["dark"][0],)]
    assert lightness[0] < 3 * 64  # a dark page, not merely another light one


def test_a_linked_k_that_is_not_a_choice(browser, lives):
    page = open_page(browser, lives["text"].url + "/?q=orbit+launch&k=7")
    page.wait_for_selector(".hit")
    assert len(hit_ids(page)) == 7 and page.input_value("#k") == "7"
    assert texts(page, "#k option") == ["7", "10", "20", "50", "100"]
    assert not page.problems


def test_image_ids_wrap_after_a_slash_never_mid_word(browser, lives):
    page = open_page(browser, lives["image"].url + "/?like=stripes%2F020.png&k=12", PHONE)
    page.wait_for_selector(".hits.grid .hit .id wbr", state="attached")
    wait_js(page, "document.querySelectorAll('.hit').length === 12")
    # per id: each part (the text between its <wbr>s) with the lines it lies on, and the lines of the whole id
    ids = page.evaluate(
        "[...document.querySelectorAll('.hit .id')].map(id => {"
        " const tops = (node) => { const r = document.createRange(); r.selectNodeContents(node);"
        " return [...r.getClientRects()].map(x => Math.round(x.top)); };"
        " const parts = [...id.childNodes].filter(n => n.nodeType === 3);"
        " return [parts.map(n => [n.textContent, new Set(tops(n)).size]), new Set(tops(id)).size]; })"
    )
    assert len(ids) == 12 and all(n == 1 for parts, _ in ids for _, n in parts), ids  # no part is broken
    assert all(parts[0][0].endswith("/") for parts, _ in ids)  # "stripes/" then "020.png"
    assert any(lines == 2 for _, lines in ids)  # at phone width some ids do take two lines (else this shows nothing)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not page.problems


def test_label_facets_set_a_filter_shown_as_a_removable_chip(browser, lives):
    page = open_page(browser, lives["text"].url + "/?q=orbit+shuttle+launch+rocket&k=10")
    page.wait_for_selector(".hit")
    assert texts(page, "#facet-list .facet .facet-name") == ["autos", "medicine", "space"]
    assert texts(page, "#facet-list .facet .count") == ["12", "12", "12"]  # items with each label
    assert page.is_hidden("#filters") and "space" in texts(page, ".hit .label")
    page.click('.facet[data-label="medicine"]')
    wait_js(page, "location.search.includes('label=medicine')")
    page.wait_for_selector('#filters .chip[data-label="medicine"]')
    wait_js(page, "[...document.querySelectorAll('.hit .label')].every(n => n.textContent === 'medicine')")
    assert len(hit_ids(page)) == 10 and page.input_value("#q") == "orbit shuttle launch rocket"
    assert page.get_attribute('.facet[data-label="medicine"]', "aria-pressed") == "true"
    page.fill("#q", "orbit rocket")  # a new query keeps the filter its chip shows
    page.press("#q", "Enter")
    wait_js(page, "location.search.includes('q=orbit+rocket&')")
    assert "label=medicine" in page.url and page.is_visible('#filters .chip[data-label="medicine"]')
    wait_js(page, "[...document.querySelectorAll('.hit .label')].every(n => n.textContent === 'medicine')")
    page.click('#filters .chip[data-label="medicine"] .chip-clear')  # remove the filter
    wait_js(page, "!location.search.includes('label=')")
    page.wait_for_selector("#filters", state="hidden")
    wait_js(page, "[...document.querySelectorAll('.hit .label')].some(n => n.textContent === 'space')")
    assert page.get_attribute('.facet[data-label="medicine"]', "aria-pressed") == "false"
    typo = open_page(browser, lives["text"].url + "/?q=orbit+launch&label=spac")  # a label no item has: said so
    typo.wait_for_selector("#warnings:not([hidden])")
    assert "nearest: 'space'" in typo.text_content("#warnings") and typo.is_visible('.chip[data-label="spac"]')
    assert not hit_ids(typo) and not page.problems and not typo.problems


def test_load_more_appends_the_next_page(browser, lives):
    import httpx

    query = "orbit shuttle launch rocket"
    want = [h["id"] for h in httpx.get(lives["text"].url + "/search", params={"q": query, "k": 20}).json()["hits"]]
    page = open_page(browser, lives["text"].url + "/?q=orbit+shuttle+launch+rocket&k=10")
    page.wait_for_selector(".hit")
    assert hit_ids(page) == want[:10] and page.is_visible("#more")
    asked = searches(page)
    page.click("#more")
    wait_js(page, "document.querySelectorAll('.hit').length === 20")
    assert "offset=10" in asked[-1] and "k=10" in asked[-1]
    assert hit_ids(page) == want and len(set(hit_ids(page))) == 20  # the next page, after the first: disjoint
    assert texts(page, ".hit .rank")[10] == "11."  # ranks go on
    while page.is_visible("#more"):
        n = len(hit_ids(page))
        page.click("#more")
        wait_js(page, f"document.querySelectorAll('.hit').length > {n} || document.querySelector('#more').hidden")
    assert len(hit_ids(page)) == 36 == len(set(hit_ids(page)))  # every item once; no button after the last page
    filtered = open_page(browser, lives["text"].url + "/?q=orbit+launch&k=5&label=space")
    filtered.wait_for_selector(".hit")
    for shown in (10, 12):
        filtered.click("#more")
        wait_js(filtered, f"document.querySelectorAll('.hit').length === {shown}")
    assert set(texts(filtered, ".hit .label")) == {"space"} and filtered.is_hidden("#more")
    assert not page.problems and not filtered.problems

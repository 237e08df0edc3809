"""Passages and highlights (issue 32 item 1): the stored text, the snippet chosen as the passage that best matches
the query with its words marked, mail and news headers skipped, ``GET /items/{id}`` returning the whole text,
snippet-only collections and collections made before texts were stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import retrieval
from retrieval import Document, InvalidParameterError
from retrieval.collection import directory
from retrieval.collection.passages import ELLIPSIS, PASSAGE_CHARS, body_spans, passage, query_words, words_pattern
from retrieval.collection.store import SCHEMA_VERSION

from .conftest import FAKE, make_docs, write_corpus

HEADER_WORDS = ("From:", "Subject:", "Organization:", "Lines:", "NNTP-Posting-Host:", "writes:", ">")


def post(n: int, label: str, body: str) -> str:
    """A news post: headers naming the topic (so a header would match the query), a quote, the body, a signature."""
    return (
        f"From: poster{n}@ll.mit.edu (Poster {n})\n"
        f"Subject: Re: {label} question {n}\n"
        "Organization: MIT Lincoln Laboratory\n"
        f"Lines: {n + 10}\n"
        "NNTP-Posting-Host: llmit.ll.mit.edu\n"
        "\n"
        f"In article <{n}@ll.mit.edu>, someone@ll.mit.edu writes:\n"
        f"> what about the {label} then\n"
        "\n"
        f"{body}\n"
        "--\n"
        f"Poster {n}, orbit shuttle launch {label} signature line\n"
    )


@pytest.fixture(scope="module")
def posts() -> list[tuple[str, str, str]]:
    return [(i, label, post(n, label, text)) for n, (i, label, text) in enumerate(make_docs())]


@pytest.fixture(scope="module")
def built_posts(tmp_path_factory, posts) -> Path:
    root = tmp_path_factory.mktemp("posts")
    retrieval.index_source(write_corpus(root / "corpus", posts), root / "posts.aer", device="cpu", **FAKE)
    return root / "posts.aer"


def marked(snippet: str, spans) -> list[str]:
    return [snippet[start:end] for start, end in spans]


def assert_no_header(snippet: str) -> None:
    assert not any(word in snippet for word in HEADER_WORDS), snippet
    assert "signature" not in snippet and "Poster" not in snippet, snippet


BODIES = {f"{label}/{i}.txt": text for i, label, text in make_docs()}  # each post's body, by item id


def assert_passage(item_id: str, snippet: str, spans, words: set[str]) -> None:
    """No header line in ``snippet``; exactly the query ``words`` marked; some marked when the body has one (all
    the posts' headers and signatures hold the query words too: marks there would not count)."""
    assert_no_header(snippet)
    assert {w.lower() for w in marked(snippet, spans)} <= words
    if words & set(BODIES[item_id].split()):
        assert spans, (item_id, snippet)


# --- choosing a passage ---------------------------------------------------------------------------------------


def test_the_snippet_of_a_post_is_its_best_passage_with_the_query_words_marked(built_posts):
    with retrieval.open(built_posts, device="cpu") as col:
        hits = col.search("orbit shuttle launch", k=12)
    for hit in hits:
        assert_passage(hit.id, hit.snippet, hit.highlights, {"orbit", "shuttle", "launch"})
    assert any(hit.highlights for hit in hits)


def test_the_passage_is_the_window_holding_the_query_words_cut_at_words():
    filler = " ".join(f"word{i}" for i in range(200))
    text = f"{filler}. The payload reached orbit after the booster burn. {filler}"
    shown, spans = passage(text, words_pattern(query_words("orbit booster")))
    assert shown.startswith(ELLIPSIS) and shown.endswith(ELLIPSIS)
    assert marked(shown, spans) == ["orbit", "booster"]
    assert len(shown) <= PASSAGE_CHARS + 2 * len(ELLIPSIS)
    assert set(shown.strip(ELLIPSIS).split()) <= set(text.split())  # no word cut in two
    assert "The payload reached orbit" in shown  # starts at the sentence


def test_the_passage_prefers_more_distinct_query_words():
    text = "rocket rocket rocket " + "x " * 200 + "the rocket and the booster"
    shown, spans = passage(text, words_pattern(query_words("rocket booster")))
    assert sorted(marked(shown, spans)) == ["booster", "rocket"]


def test_header_like_lines_are_skipped_and_without_query_words_the_body_starts_the_snippet():
    text = post(1, "space", "The launch slipped a week.\n> a quoted line later\nThe crew waits.")
    shown, spans = passage(text)
    assert shown == "The launch slipped a week. The crew waits." and spans == ()
    assert [text[s:e] for s, e in body_spans(text)] == ["The launch slipped a week.", "The crew waits."]


def test_a_text_that_only_looks_like_headers_is_shown_whole():
    assert passage("Note: this is not a mail header block.")[0] == "Note: this is not a mail header block."
    assert passage("From: someone\nSubject: nothing else")[0] == "From: someone Subject: nothing else"
    assert passage("") == ("", ())


def test_query_words_follow_the_tokeniser_and_leave_common_words_out():
    assert query_words("The Shuttle's ORBIT, a rocket") == {"shuttle", "orbit", "rocket"}
    assert query_words("the") == {"the"}  # nothing else to mark
    assert query_words(None) == frozenset()
    shown, spans = passage("Shuttles are not the shuttle.", words_pattern(query_words("shuttle")))
    assert marked(shown, spans) == ["shuttle"]  # whole tokens only


def test_items_like_a_stored_one_show_the_start_of_the_body(built_posts, posts):
    with retrieval.open(built_posts, device="cpu") as col:
        hits = col.search_by_id(f"{posts[0][1]}/{posts[0][0]}.txt", k=3)
    bodies = {f"{label}/{i}.txt": text for i, label, text in posts}
    for hit in hits:
        assert hit.highlights == () and hit.snippet
        body = bodies[hit.id].split("\n\n", 2)[2]
        assert hit.snippet.split()[:5] == body.split()[:5]


# --- the stored text ------------------------------------------------------------------------------------------


def test_get_item_returns_the_whole_text_and_search_the_highlights(built_posts, posts):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from retrieval.server.app import create_app

    item_id, label, text = posts[3]
    with TestClient(create_app(built_posts, device="cpu", refresh_s=0), base_url="http://localhost") as client:
        item = client.get(f"/items/{label}/{item_id}.txt").json()
        assert item["text"] == text and item["snippet"] and "From:" not in item["snippet"]
        hits = client.get("/search", params={"q": "doctor patient", "k": 12}).json()["hits"]
    for hit in hits:
        assert_passage(hit["id"], hit["snippet"], hit["highlights"], {"doctor", "patient"})
    assert any(hit["highlights"] for hit in hits)


def test_a_snippet_only_collection_keeps_no_text(tmp_path, posts):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from retrieval.server.app import create_app

    path = tmp_path / "snippets.aer"
    retrieval.index_source(write_corpus(tmp_path / "corpus", posts), path, device="cpu", keep_text=False, **FAKE)
    with retrieval.open(path, device="cpu") as col:
        assert col.info()["keep_text"] is False and col.item(f"space/{posts[0][0]}.txt").text is None
        hits = col.search("orbit shuttle", k=3)
    for hit in hits:  # the stored snippet: the body's start (all of these short bodies), query words marked in it
        assert_passage(hit.id, hit.snippet, hit.highlights, {"orbit", "shuttle"})
    with sqlite3.connect(path / directory.DB_FILE) as conn:
        assert conn.execute("SELECT count(*) FROM texts").fetchone() == (0,)
    with TestClient(create_app(path, device="cpu", refresh_s=0), base_url="http://localhost") as client:
        assert client.get(f"/items/space/{posts[0][0]}.txt").json()["text"] is None
    with pytest.raises(InvalidParameterError, match="keep_text"):  # chosen when the collection is made
        retrieval.index_source(tmp_path / "corpus", path, keep_text=True)


def test_updates_and_deletes_replace_and_drop_the_stored_text(tmp_path):
    docs = [Document(id=f"d{i}", text=f"orbit shuttle number {i}") for i in range(4)]
    retrieval.index_source(docs, tmp_path / "c.aer", device="cpu", **FAKE)
    with retrieval.open(tmp_path / "c.aer", device="cpu") as col:
        col.update(Document(id="d1", text="a new text about the rocket"))
        assert col.item("d1").text == "a new text about the rocket"
        col.delete(["d2"])
    with sqlite3.connect(tmp_path / "c.aer" / directory.DB_FILE) as conn:
        assert conn.execute("SELECT count(*) FROM texts").fetchone() == (3,)


def test_info_states_the_store_size(built_posts):
    with retrieval.open(built_posts, device="cpu") as col:
        info = col.info()
        files = [built_posts / (directory.DB_FILE + side) for side in ("", "-wal")]
        assert info["store_size"] == sum(f.stat().st_size for f in files if f.exists()) > 0
    assert info["keep_text"] is True


def test_a_collection_made_before_texts_were_stored_opens_and_searches(tmp_path, built_posts, posts):
    """Schema 3 had no texts table and the manifest no ``keep_text``: the store is upgraded on open, searches show
    the stored snippet with the query words marked, ``text`` is absent, and later items keep none either."""
    import shutil

    old = Path(shutil.copytree(built_posts, tmp_path / "old.aer"))
    manifest = json.loads((old / directory.MANIFEST).read_text())
    del manifest["keep_text"]
    directory.write(old, manifest)
    with sqlite3.connect(old / directory.DB_FILE) as conn:
        conn.execute("DROP TABLE texts")
        conn.execute("UPDATE meta SET value = '3' WHERE name = 'schema_version'")
        conn.execute("UPDATE items SET snippet = 'From: x@y.edu Subject: orbit talk Organization: Lab'")
    with retrieval.open(old, device="cpu") as col:
        assert col.store.schema_version == SCHEMA_VERSION == 5
        hits = col.search("orbit shuttle", k=3)
        assert len(hits) == 3 and all(marked(h.snippet, h.highlights) == ["orbit"] for h in hits)
        assert col.item(hits[0].id).text is None and col.info()["keep_text"] is False
        col.add([Document(id="new", text="orbit shuttle launch")])
        assert col.item("new").text is None and col.item("new").snippet == "orbit shuttle launch"


# --- the command line -----------------------------------------------------------------------------------------


def test_aer_query_emphasises_the_query_words_on_a_terminal_only(built_posts):
    from click.testing import CliRunner

    from cli.main import main

    args = ["query", str(built_posts), "doctor patient", "-k", "12"]
    plain = CliRunner().invoke(main, args)
    styled = CliRunner().invoke(main, args, color=True)
    assert plain.exit_code == 0 and styled.exit_code == 0, plain.output + styled.output
    assert "\x1b[" not in plain.output and ("doctor" in plain.output or "patient" in plain.output)
    assert "\x1b[1mdoctor\x1b[0m" in styled.output or "\x1b[1mpatient\x1b[0m" in styled.output
    assert "From:" not in plain.output
    for hit in json.loads(CliRunner().invoke(main, [*args, "--json"]).output):
        assert_passage(hit["id"], hit["snippet"], hit["highlights"], {"doctor", "patient"})


def test_aer_index_keep_snippet_and_aer_info_state_what_the_store_keeps(tmp_path, posts):
    from click.testing import CliRunner

    from cli.main import main

    corpus = write_corpus(tmp_path / "corpus", posts)
    runner = CliRunner()
    for keep, path in (("snippet", tmp_path / "s.aer"), (None, tmp_path / "t.aer")):
        args = ["index", str(path), str(corpus), "--encoder", "fake-text", "--dim", "32", "-q"]
        out = runner.invoke(main, args + (["--keep", keep] if keep else []))
        assert out.exit_code == 0, out.output
        info = json.loads(runner.invoke(main, ["info", str(path), "--json"]).output)
        assert info["keep_text"] is (keep is None) and info["store_size"] > 0
    shown = runner.invoke(main, ["info", str(tmp_path / "s.aer")]).output
    assert any(line.startswith("store_size") and "bytes)" in line for line in shown.splitlines())

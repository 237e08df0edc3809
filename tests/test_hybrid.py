"""Keyword and hybrid search (issue 32 item 4): the keyword index beside the codes, BM25 as bm25s scores it,
reciprocal rank fusion, filters in every mode, the keyword index following every write (and every failed one),
collections made before it, and the mode in the CLI and the API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import retrieval
from retrieval.collection import directory, keywords
from retrieval.collection.hybrid import fuse
from retrieval.collection.keywords import KeywordIndex
from retrieval.collection.verify import verify
from retrieval.errors import CollectionError, InvalidParameterError, QueryError, RetrievalError
from retrieval.sources import Document

from .test_write_rollback import inject

RARE = "xq7734"  # a part number: no code's vocabulary holds it
# an autos post naming the part: by meaning it is about cars, by its words it is the only one with the number
PART = Document(id="autos/part.txt", label="autos", text=f"engine brake part {RARE} gearbox clutch dealer wheel")


def keyword_ids(col, query: str, k: int = 5) -> list[str]:
    return [h.id for h in col.search(query, k=k, mode="keyword")]


# --- BM25 and the keyword index itself --------------------------------------------------------------------------


def test_stop_words_are_the_codes_vocabularys():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from retrieval.bag_of_words import BagOfWords

    assert BagOfWords().stop_words == "english" and keywords.STOP_WORDS == ENGLISH_STOP_WORDS


def test_bm25_scores_are_bm25s_scores(docs):
    """The weights computed from the counts are bm25s' (Lucene variant, its defaults) for every item."""
    bm25s = pytest.importorskip("bm25s")
    texts = [t for _, _, t in docs] + ["orbit orbit orbit moon", "a text of none of the topic words"]
    index = KeywordIndex.empty().with_texts(np.arange(len(texts)) * 7, texts)  # keys need not be positions
    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords=list(keywords.STOP_WORDS), show_progress=False), show_progress=False)
    for query in ("orbit launch", "engine engine wheel", "doctor moon diet"):
        expected = model.get_scores(keywords.words(query))
        scores, keys = index.search([query], len(texts))
        found = keys[0] >= 0
        got = np.zeros(len(texts))
        got[keys[0][found] // 7] = scores[0][found]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert set(np.flatnonzero(expected > 0)) == set(keys[0][found] // 7)  # only the items holding a word


def test_save_and_load_round_trip_without_pickle(tmp_path):
    index = KeywordIndex.empty().with_texts(np.array([3, 9]), ["Ünïcode wörds here", "plain words"])
    index = index.without(np.array([3]))  # a word no item holds any more is dropped on save
    index.save(tmp_path / "k.npz")
    back = KeywordIndex.load(tmp_path / "k.npz")
    assert back.keys.tolist() == [9] and back.vocabulary == ["plain", "words"]
    assert back.search(["words"], 2)[1].tolist() == [[9, -1]]
    np.savez(tmp_path / "pickled.npz", keys=np.array([object()], dtype=object))  # an object array needs pickle
    with pytest.raises(CollectionError, match="damaged keyword index"):
        KeywordIndex.load(tmp_path / "pickled.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CollectionError, match="damaged keyword index"):
        KeywordIndex.load(tmp_path / "junk.npz")


def test_reciprocal_rank_fusion_on_a_toy_ranking():
    codes = np.array([[1, 2, 3, -1]])
    words = np.array([[3, 1, 4, -1]])
    scores, keys = fuse([codes, words], k=4, constant=60)
    expected = {1: 1 / 61 + 1 / 62, 2: 1 / 62, 3: 1 / 63 + 1 / 61, 4: 1 / 63}
    assert keys[0].tolist() == [1, 3, 2, 4]  # 1: 1/61 + 1/62 beats 3: 1/61 + 1/63
    np.testing.assert_allclose(scores[0], [expected[k] for k in keys[0]], rtol=1e-6)
    # a tie goes to the item met first, rank by rank, the first ranking first; k cuts; -1 pads
    scores, keys = fuse([np.array([[5, -1]]), np.array([[6, -1]])], k=3)
    assert keys[0].tolist() == [5, 6, -1] and scores[0][0] == scores[0][1] and scores[0][2] == 0


# --- the modes through a collection -------------------------------------------------------------------------------


def test_keyword_mode_finds_an_exact_rare_word_the_codes_miss(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
        query = f"{RARE} orbit launch"  # the number, and words about space
        assert PART.id not in [h.id for h in col.search(query, k=5, mode="codes")]
        words = col.search(query, k=5, mode="keyword")
        assert words[0].id == PART.id
        assert words[0].score > words[1].score > 0  # BM25: the rare word weighs most
        ranks = {m: [h.id for h in col.search(query, k=40, mode=m)].index(PART.id) for m in ("codes", "hybrid")}
        assert ranks["hybrid"] < ranks["codes"]  # fused, the word lifts it
        with pytest.raises(QueryError):  # the codes alone cannot even encode it ...
            col.search(RARE, k=5, mode="codes")
        assert [h.id for h in col.search(RARE, k=5, mode="hybrid")] == [PART.id]  # ... hybrid still answers
        assert col.search("zzzz unknownword", k=5, mode="keyword") == []  # no word held: no hits, no error
        with pytest.raises(QueryError):  # neither side finds anything: the codes' reason is given
            col.search("zzzz unknownword", k=5, mode="hybrid")


def test_the_default_mode_and_a_bad_mode(text_collection):
    from retrieval.defaults import SEARCH_MODE

    with retrieval.open(text_collection, device="cpu") as col:
        assert col.search("orbit launch", k=5) == col.search("orbit launch", k=5, mode=SEARCH_MODE)
        with pytest.raises(InvalidParameterError, match="'mode' parameter must be one of codes, keyword, hybrid"):
            col.search("orbit", mode="bm25")
        with pytest.raises(QueryError, match="search it with text"):
            col.search_batch([np.zeros((32, 32, 3), np.uint8)], mode="keyword")


@pytest.mark.parametrize("mode", ["codes", "keyword", "hybrid"])
def test_filters_apply_in_every_mode(text_collection, mode):
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
        where = {"label": ["space", "medicine"]}
        hits = col.search(f"{RARE} engine brake orbit", k=10, mode=mode, where=where)
        assert hits and all(h.label in ("space", "medicine") for h in hits)
        assert PART.id not in [h.id for h in hits]  # the best keyword match, filtered out
        hits = col.search(f"{RARE} engine", k=3, mode=mode, where={"id_prefix": "autos/part"})
        assert [h.id for h in hits] == [PART.id]


def test_the_keyword_index_follows_add_update_and_delete(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        assert keyword_ids(col, RARE) == []
        col.add([PART])
        assert keyword_ids(col, RARE) == [PART.id]
        col.update(Document(id=PART.id, label="autos", text="engine part zb9911 clutch"))
        assert keyword_ids(col, RARE) == [] and keyword_ids(col, "zb9911") == [PART.id]
        assert col.delete([PART.id, "space/space-00.txt"]) == [PART.id, "space/space-00.txt"]
        assert keyword_ids(col, "zb9911") == []
        assert "space/space-00.txt" not in keyword_ids(col, "orbit shuttle launch rocket", k=40)
        held = set(keywords.read(col).keys.tolist())
        assert held == set(col.index.keys().tolist()) and len(held) == len(col) == 35
    assert verify(text_collection).ok
    with retrieval.open(text_collection, device="cpu", for_queries=True) as fresh:  # another process's view
        assert keyword_ids(fresh, "zb9911") == [] and len(keywords.read(fresh)) == 35


def test_a_reader_keeps_its_snapshot_of_keywords_as_of_codes(text_collection):
    """A collection answers from the codes it read; its keyword side holds the same items (reopen to see more)."""
    with retrieval.open(text_collection, device="cpu", for_queries=True) as reader:
        assert keyword_ids(reader, RARE) == []
        with retrieval.open(text_collection, device="cpu") as writer:
            writer.add([PART])
        assert reader.stale() and keyword_ids(reader, RARE) == []  # not in its codes: not in its keywords either
    with retrieval.open(text_collection, device="cpu", for_queries=True) as reopened:
        assert keyword_ids(reopened, RARE) == [PART.id]


def _keywords_replace_fails(monkeypatch):
    import errno
    import os

    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == directory.KEYWORDS_FILE:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("fault", ["keywords-rename", "faiss-enospc", "rename", "store-error", "commit-eio"])
@pytest.mark.parametrize("write", ["add", "delete"])
def test_a_failed_write_leaves_store_codes_and_keywords_agreeing(text_collection, monkeypatch, fault, write):
    gone = "autos/autos-00.txt"
    with retrieval.open(text_collection, device="cpu") as col:
        before = {m: [h.id for h in col.search("engine brake", k=40, mode=m)] for m in ("codes", "keyword")}
        if fault == "keywords-rename":
            _keywords_replace_fails(monkeypatch)
        else:
            inject(fault, col, monkeypatch)
        with pytest.raises((RetrievalError, RuntimeError)):
            col.add([PART]) if write == "add" else col.delete([gone])
        monkeypatch.undo()
        for view in (col, retrieval.open(text_collection, device="cpu", for_queries=True)):
            assert {m: [h.id for h in view.search("engine brake", k=40, mode=m)] for m in before} == before
            assert keyword_ids(view, RARE) == []
            assert set(keywords.read(view).keys.tolist()) == set(view.index.keys().tolist())
        found = verify(text_collection)
        assert found.ok, found.problems
        assert not [p.name for p in text_collection.iterdir() if p.name.endswith((".new", ".prev"))]
        col.add([PART]) if write == "add" else col.delete([gone])  # and the write then succeeds
        assert (keyword_ids(col, RARE) == [PART.id]) if write == "add" else gone not in keyword_ids(col, "engine", 40)
    assert verify(text_collection).ok


def test_keywords_left_ahead_by_a_crash_are_dropped_by_the_next_write(text_collection):
    """A crash between the keyword file's rename and the store's commit leaves keys the store does not list: they
    are never hits (no store row), and the next write keeps the keyword index to the index's keys."""
    with retrieval.open(text_collection, device="cpu") as col:
        ahead = keywords.read(col).with_texts(np.array([999]), [f"{RARE} ghost"])
        directory.save_recorded(text_collection, directory.KEYWORDS_FILE, ahead.save, "the keyword index")
        assert keyword_ids(col, RARE) == []
        col.add([Document(id="n.txt", text="orbit")])
        assert 999 not in keywords.read(col).keys


def _made_before_keywords(path: Path) -> None:
    """Make ``path`` look like a collection made before keyword search: no keyword file, digest or field."""
    manifest = json.loads((path / directory.MANIFEST).read_text())
    del manifest[directory.KEYWORDS_KEPT]
    (path / directory.MANIFEST).write_text(json.dumps(manifest))
    digests = json.loads((path / directory.DIGESTS_FILE).read_text())
    del digests[directory.KEYWORDS_FILE]
    (path / directory.DIGESTS_FILE).write_text(json.dumps(digests))
    (path / directory.KEYWORDS_FILE).unlink()


def test_a_collection_made_before_keyword_search(text_collection):
    _made_before_keywords(text_collection)
    assert verify(text_collection).ok
    with retrieval.open(text_collection, device="cpu") as col:
        assert col.search("orbit launch", k=3) == col.search("orbit launch", k=3, mode="codes")  # default: codes
        for mode in ("keyword", "hybrid"):
            with pytest.raises(CollectionError, match="made before keyword search.*aer index NEW SOURCE"):
                col.search("orbit", mode=mode)
        assert col.info()["keyword_index"].startswith("none")
        col.add([PART])  # writes go on without one
        assert not (text_collection / directory.KEYWORDS_FILE).exists()
    assert verify(text_collection).ok


def test_info_names_the_keyword_index(text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        assert col.info()["keyword_index"] == f"{directory.KEYWORDS_FILE} (modes: codes, keyword, hybrid)"


def test_a_deleted_keyword_file_is_damage(text_collection):
    (text_collection / directory.KEYWORDS_FILE).unlink()
    assert any(p.startswith(f"{directory.KEYWORDS_FILE}: missing") for p in verify(text_collection).problems)
    with pytest.raises(CollectionError, match="damaged collection"):
        retrieval.open(text_collection, device="cpu")


def test_an_image_collection_has_no_keyword_index(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image", dim=8)
    assert not (tmp_path / "i.aer" / directory.KEYWORDS_FILE).exists()
    with retrieval.open(tmp_path / "i.aer", device="cpu") as col:
        with pytest.raises(CollectionError, match="image collection has no words"):
            col.search(np.zeros((32, 32, 3), np.uint8), mode="hybrid")


# --- the mode in the CLI and the API --------------------------------------------------------------------------------


def test_query_mode_on_the_command_line(text_collection):
    from click.testing import CliRunner

    from cli.main import main as cli

    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
    runner = CliRunner()
    found = runner.invoke(cli, ["query", str(text_collection), RARE, "--mode", "keyword", "--json"])
    assert found.exit_code == 0, found.output
    assert [h["id"] for h in json.loads(found.output)] == [PART.id]
    refused = runner.invoke(cli, ["query", str(text_collection), "--like", PART.id, "--mode", "keyword"])
    assert refused.exit_code == 2 and "--like searches by the item's code" in refused.output
    bad = runner.invoke(cli, ["query", str(text_collection), RARE, "--mode", "bm25"])
    assert bad.exit_code == 2 and "bm25" in bad.output


def test_search_mode_in_the_api(text_collection):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from retrieval.server.app import create_app

    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
    with TestClient(create_app(text_collection, device="cpu", refresh_s=0), base_url="http://localhost") as client:
        got = client.get("/search", params={"q": RARE, "mode": "keyword"})
        assert got.status_code == 200, got.text
        assert [h["id"] for h in got.json()["hits"]] == [PART.id]
        posted = client.post("/search", json={"q": f"{RARE} orbit", "k": 3, "mode": "codes"})
        assert posted.status_code == 200 and PART.id not in [h["id"] for h in posted.json()["hits"]]
        assert client.get("/search", params={"q": RARE, "mode": "bm25"}).status_code == 422
        assert client.post("/search", json={"like": PART.id, "mode": "hybrid"}).status_code == 422


def test_copying_a_collection_keeps_its_keywords(tmp_path, text_collection):
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
    copy = Path(shutil.copytree(text_collection, tmp_path / "copy.aer"))
    with retrieval.open(copy, device="cpu") as col:
        assert keyword_ids(col, RARE) == [PART.id]


def test_repair_rebuilds_a_lost_keyword_index_from_the_sources(text_collection):
    from retrieval.collection.repair import repair

    with retrieval.open(text_collection, device="cpu") as col:
        before = keyword_ids(col, "orbit engine", k=40)
    (text_collection / directory.KEYWORDS_FILE).unlink()
    done = repair(text_collection)
    assert done and "the keyword index with them" in done[0]
    assert verify(text_collection).ok
    with retrieval.open(text_collection, device="cpu") as col:
        assert keyword_ids(col, "orbit engine", k=40) == before


def test_a_batch_deeper_than_the_collection_with_an_unencodable_query(text_collection):
    # the one-at-a-time fallback once failed to place a code ranking shorter than the fusion depth
    with retrieval.open(text_collection, device="cpu") as col:
        col.add([PART])
        assert len(col) < 100  # the fusion reads max(2k, 100) deep: more than the collection holds
        rare, space = col.search_batch([RARE, "orbit launch"], k=5, mode="hybrid")
        assert [h.id for h in rare] == [PART.id]
        assert [h.id for h in space] == [h.id for h in col.search("orbit launch", k=5, mode="hybrid")]

"""Binary collections that keep float codes: the Hamming candidates re-scored exactly with them (``floats``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from indexers import unpack_bits
from retrieval.collection import directory, floats
from retrieval.collection.verify import verify
from retrieval.encoders.rotation import rotated_bits
from retrieval.errors import InvalidParameterError

from .conftest import FAST_AE, FAST_AE_ARGS, build_once

BINARY = {**FAST_AE, "bits": 16}
QUERY = "orbit shuttle launch doctor"


@pytest.fixture(scope="module")
def built_floats(tmp_path_factory, docs) -> Path:
    """The toy corpus as a 16-bit collection keeping its 8-float codes (read it, never change it)."""
    return build_once(tmp_path_factory, docs, **BINARY, keep_float=True)


@pytest.fixture
def floats_collection(tmp_path: Path, built_floats: Path) -> Path:
    return Path(shutil.copytree(built_floats, tmp_path / "f.aer"))


def stored(col: retrieval.Collection, keys: list[int]) -> dict[int, np.ndarray]:
    return floats.from_bytes(col.store.float_codes(keys), 8)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)) @ (b / np.linalg.norm(b))


def test_the_kept_float_code_is_the_one_the_bits_come_from(built_floats):
    with retrieval.open(built_floats, device="cpu") as col:
        keys = col.index.keys()
        codes = stored(col, keys.tolist())
        assert col.manifest[floats.KEPT]["dim"] == 8 and len(codes) == len(col) == 36
        rotation = col.encoder.rotation_mean_, col.encoder.rotation_
        for key in keys[:10].tolist():
            bits = unpack_bits(col.index.reconstruct(key)[None, :], 16)[0].astype(bool)
            np.testing.assert_array_equal(bits, rotated_bits(codes[key][None, :], *rotation)[0])


@pytest.mark.parametrize("oversample", [1, 2, 4])
def test_rescored_top_k_is_the_exact_float_ranking_of_the_hamming_candidates(built_floats, oversample):
    k = 5
    with retrieval.open(built_floats, device="cpu", for_queries=True) as col:
        bits, query = col._queries.encode_queries_with_floats([QUERY])
        _, candidates = col.search_codes(bits, k * oversample)
        found = candidates[0][candidates[0] >= 0].tolist()
        exact = cosine(np.stack([stored(col, found)[key] for key in found]), query[0])
        order = np.argsort(-exact, kind="stable")[:k]
        hits = col.search(QUERY, k=k, mode="codes", oversample=oversample)
        assert [h.id for h in hits] == [col.store.by_keys([found[i]])[found[i]].id for i in order]
        np.testing.assert_allclose([h.score for h in hits], exact[order], rtol=1e-5)
        hamming = col.search(QUERY, k=k, mode="codes", oversample=0)  # the bits alone, scored 1 - hamming / bits
        top_scores, top = col.search_codes(bits, k)
        assert [h.id for h in hamming] == [col.store.by_keys([key])[key].id for key in top[0].tolist()]
        np.testing.assert_allclose([h.score for h in hamming], top_scores[0])


def test_the_query_side_without_torch_gives_the_full_encoders_float_code(built_floats):
    with retrieval.open(built_floats, device="cpu", for_queries=True) as light:
        assert type(light._queries).__name__ == "TextQueries"
        bits, query = light._queries.encode_queries_with_floats([QUERY, "engine brake"])
        full_bits, full_query = light.encoder.encode_queries_with_floats([QUERY, "engine brake"])
    np.testing.assert_array_equal(bits, full_bits)
    np.testing.assert_allclose(query, full_query, rtol=1e-4, atol=1e-5)


def test_default_oversample_and_search_by_id_rescore(built_floats):
    with retrieval.open(built_floats, device="cpu") as col:
        assert col.search(QUERY, k=3, mode="codes") == col.search(QUERY, k=3, mode="codes", oversample=4)
        like = col.search_by_id("space/space-00.txt", k=4, oversample=3)
        key = col._keys_of(["space/space-00.txt"])["space/space-00.txt"]
        own = stored(col, [key])[key]
        assert "space/space-00.txt" not in [h.id for h in like]
        for hit in like:
            other = col._keys_of([hit.id])[hit.id]
            assert hit.score == pytest.approx(float(cosine(stored(col, [other])[other][None, :], own)[0]), rel=1e-5)


def test_hybrid_fuses_the_rescored_code_ranking(built_floats):
    calls = []
    with retrieval.open(built_floats, device="cpu") as col:
        original = col.code_search
        col.code_search = lambda *a, **kw: calls.append(a) or original(*a, **kw)
        hits = col.search(QUERY, k=3, mode="hybrid", oversample=2)
    assert len(hits) == 3 and calls and calls[0][3] == 2  # (queries, depth, where, oversample)


def test_update_and_delete_keep_the_float_codes_in_step(floats_collection):
    with retrieval.open(floats_collection, device="cpu") as col:
        key = col._keys_of(["space/space-03.txt"])["space/space-03.txt"]
        before = stored(col, [key])[key].copy()
        col.update(retrieval.Document(id="space/space-03.txt", text="engine car brake tire dealer gearbox clutch",
                                      label="x"))
        after = stored(col, [key])[key]
        expected = col.encoder.encode_with_floats(["engine car brake tire dealer gearbox clutch"])[2][0]
        assert not np.allclose(before, after)
        np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-5)
        gone = col._keys_of(["autos/autos-01.txt", "medicine/medicine-02.txt"])
        col.delete(["autos/autos-01.txt", "medicine/medicine-02.txt"])
        assert stored(col, list(gone.values())) == {}
        col.add([retrieval.Document(id="new-1", text="rocket moon nasa", label="space")])
        assert len(col.store.float_codes(col.index.keys().tolist())) == len(col) == 35
    assert verify(floats_collection).ok


def test_verify_names_an_item_without_its_float_code(floats_collection):
    found = verify(floats_collection)
    assert found.ok and any(p.startswith("float codes: one of 8 floats") for p in found.passed)
    with retrieval.open(floats_collection, device="cpu") as col:
        key = col._keys_of(["medicine/medicine-05.txt"])["medicine/medicine-05.txt"]
    with sqlite3.connect(floats_collection / directory.DB_FILE) as conn:
        conn.execute("DELETE FROM float_codes WHERE key = ?", (key,))
    found = verify(floats_collection)
    assert not found.ok
    assert any("1 items have no float code" in p and "medicine/medicine-05.txt" in p for p in found.problems)
    with retrieval.open(floats_collection, device="cpu") as col:  # it still searches: that item ranks last
        assert len(col.search(QUERY, k=36, mode="codes", oversample=1)) == 36


def test_collections_without_float_codes_search_as_before(tmp_path, built_floats, docs):
    plain = build_once_plain(tmp_path, docs)
    with retrieval.open(plain, device="cpu") as col:
        assert floats.KEPT not in col.manifest and col.info()["keep_float"].startswith("no")
        hits = col.search(QUERY, k=5, mode="codes")
        assert [h.id for h in hits] == [h.id for h in col.search(QUERY, k=5, mode="codes", oversample=0)]
        with pytest.raises(InvalidParameterError, match="keeps no float codes"):
            col.search(QUERY, k=5, oversample=4)
    # a store made before float codes (schema 4, no float_codes table) opens, upgrades and searches
    old = Path(shutil.copytree(plain, tmp_path / "old.aer"))
    with sqlite3.connect(old / directory.DB_FILE) as conn:
        conn.execute("DROP TABLE float_codes")
        conn.execute("UPDATE meta SET value = '4' WHERE name = 'schema_version'")
    with retrieval.open(old, device="cpu") as col:
        assert col.store.schema_version == 5
        assert [h.id for h in col.search(QUERY, k=5, mode="codes")] == [h.id for h in hits]
    assert verify(old).ok


def build_once_plain(tmp_path: Path, docs) -> Path:
    from .conftest import write_corpus

    retrieval.index_source(write_corpus(tmp_path / "corpus", docs), tmp_path / "p.aer", **BINARY, keep_float=False)
    return tmp_path / "p.aer"


@pytest.mark.parametrize(("options", "kept"), [
    (BINARY, True),  # bits by rotation: kept unless told not to (defaults.KEEP_FLOAT)
    ({**BINARY, "binarise": "layer"}, False),  # a binary code layer has no float code to keep
    ({**FAST_AE}, False),  # float codes are the codes
])  # fmt: skip
def test_a_binary_text_collection_keeps_float_codes_by_default(tmp_path, corpus_dir, options, kept):
    retrieval.index_source(corpus_dir, tmp_path / "d.aer", **options)
    with retrieval.open(tmp_path / "d.aer", device="cpu") as col:
        assert (floats.width(col.manifest) == 8) is kept
        assert len(col.store.float_codes(col.index.keys().tolist())) == (len(col) if kept else 0)


@pytest.mark.parametrize(("options", "why"), [
    ({"encoder": "lsa", "dim": 8}, "applies to binary codes"),
    ({**BINARY, "binarise": "layer"}, "applies to binary codes"),
])  # fmt: skip
def test_keep_float_is_refused_where_there_is_no_float_code(tmp_path, corpus_dir, options, why):
    with pytest.raises(InvalidParameterError, match=why):
        retrieval.index_source(corpus_dir, tmp_path / "x.aer", keep_float=True, **options)
    assert not (tmp_path / "x.aer").exists()


@pytest.mark.parametrize("bad", [0.5, -1, float("nan"), "4", True])
def test_a_bad_oversample_is_refused(built_floats, bad):
    with retrieval.open(built_floats, device="cpu") as col, pytest.raises(InvalidParameterError, match="oversample"):
        col.search(QUERY, k=3, oversample=bad)


def test_cli_keep_float_oversample_and_info(tmp_path, corpus_dir):
    runner = CliRunner()
    col = tmp_path / "c.aer"
    out = runner.invoke(main, ["index", str(col), str(corpus_dir), "--bits", "16", "--keep-float", *FAST_AE_ARGS])
    assert out.exit_code == 0, out.output
    info = json.loads(runner.invoke(main, ["info", str(col), "--json"]).output)
    assert info["keep_float"].startswith("8 floats per item")
    shown = runner.invoke(main, ["info", str(col)]).output
    assert "keep_float" in shown
    hits = json.loads(runner.invoke(main, ["query", str(col), QUERY, "--mode", "codes", "--oversample", "2",
                                           "--json", "-k", "3"]).output)  # fmt: skip
    with retrieval.open(col, device="cpu") as opened:
        expected = opened.search(QUERY, k=3, mode="codes", oversample=2)
    assert [h["id"] for h in hits] == [h.id for h in expected]
    bad = runner.invoke(main, ["query", str(col), QUERY, "--oversample", "0.5"])
    assert bad.exit_code != 0 and "oversample" in bad.output


def test_the_api_takes_oversample(built_floats):
    from fastapi.testclient import TestClient

    from retrieval.server import create_app

    with retrieval.open(built_floats, device="cpu") as col:
        expected = [h.id for h in col.search(QUERY, k=3, mode="codes", oversample=2)]
        hamming = [h.id for h in col.search(QUERY, k=3, mode="codes", oversample=0)]
    assert expected != hamming  # else the test could not tell the parameter was used
    app = create_app(built_floats, device="cpu", token=None)
    with TestClient(app, base_url="http://localhost") as client:
        params = {"q": QUERY, "k": 3, "mode": "codes"}
        found = client.get("/search", params={**params, "oversample": 2})
        assert found.status_code == 200 and [h["id"] for h in found.json()["hits"]] == expected
        bits = client.get("/search", params={**params, "oversample": 0}).json()["hits"]
        assert [h["id"] for h in bits] == hamming
        posted = client.post("/search", json={**params, "oversample": 2}).json()["hits"]
        assert [h["id"] for h in posted] == expected, "POST /search must pass 'oversample' on to the search"
        assert client.get("/search", params={**params, "oversample": 0.5}).status_code in (400, 422)
        assert client.get("/search", params={**params, "oversample": 1000}).status_code == 422


def test_an_image_collection_keeps_and_rescores_float_codes(tmp_path, image_dir):
    path = tmp_path / "img.aer"
    retrieval.index_source(image_dir, path, encoder="conv-ae", bits=16, keep_float=True, channels=(8, 16), epochs=1,
                           batch_size=16, progress=False, device="cpu")  # fmt: skip
    query = next(image_dir.glob("*/*.png"))
    with retrieval.open(path, device="cpu") as col:
        width = floats.width(col.manifest)
        _, query_floats = col.encoder.encode_queries_with_floats([query])
        _, candidates = col.search_codes(col.encode([query]), 6)
        found = candidates[0].tolist()
        codes = floats.from_bytes(col.store.float_codes(found), width)
        exact = cosine(np.stack([codes[key] for key in found]), query_floats[0])
        hits = col.search(query, k=3, oversample=2)
        np.testing.assert_allclose([h.score for h in hits], np.sort(exact)[::-1][:3], rtol=1e-5)
    assert verify(path).ok

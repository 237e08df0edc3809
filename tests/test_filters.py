"""Metadata filters: exact top-k among the matching items, for every kind of index, and through the collection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from indexers import create_index
from indexers.bits import pack_bits
from retrieval.collection.filters import Where, parse_where

from .conftest import FAKE, build_once

N, DIM, BITS = 600, 16, 64
FLOAT_SPECS = ["IDMap2,Flat", "IVF8,Flat,nprobe=1", "HNSW16", "Shards3,IDMap2,Flat", "Shards2,IVF4,Flat,nprobe=1"]
BINARY_SPECS = ["BFlat", "BHash16,nflip=0", "Shards3,BHash16", "TwoStage16,radius=1"]


def _float_data(metric: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(N, DIM)).astype(np.float32)
    keys = rng.permutation(10 * N)[:N].astype(np.int64)  # sparse, unordered keys
    return keys, codes, rng.normal(size=(5, DIM)).astype(np.float32)


def _true_scores(metric: str, codes: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if metric == "cosine":
        a = codes / np.linalg.norm(codes, axis=1, keepdims=True)
        return (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ a.T
    return -np.linalg.norm(queries[:, None, :] - codes[None, :, :], axis=2)


def _random_filters(keys: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Filters from a handful of items to most of them, plus keys the index does not hold."""
    out = []
    for share in (0.005, 0.03, 0.2, 0.6, 0.95):
        chosen = rng.choice(keys, size=max(1, int(share * len(keys))), replace=False)
        out.append(np.concatenate([chosen, [10 * N + 7, 10 * N + 99]]))  # unknown keys are ignored
    return out


def _check_exact(found_scores, found_keys, truth, keys, allowed, k) -> None:
    """Each row: min(k, matching) hits, all allowed, each with its true score, equal to the true top-k scores."""
    position = {int(key): i for i, key in enumerate(keys)}
    mask = np.isin(keys, allowed)
    want = min(k, int(mask.sum()))
    for row in range(len(truth)):
        got = found_keys[row][found_keys[row] >= 0]
        assert len(got) == want
        assert np.isin(got, allowed).all() and len(set(got.tolist())) == want
        true_of_got = np.array([truth[row, position[int(g)]] for g in got])
        np.testing.assert_allclose(found_scores[row][: len(got)], true_of_got, atol=1e-4)
        best = np.sort(truth[row, mask])[::-1][:want]
        np.testing.assert_allclose(np.sort(true_of_got)[::-1], best, atol=1e-4)


@pytest.mark.parametrize("spec", FLOAT_SPECS)
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_float_filters_equal_brute_force(spec, metric):
    keys, codes, queries = _float_data(metric)
    index = create_index(spec, DIM, metric)
    if not index.is_trained:
        index.train(codes)
    index.add(keys, codes)
    truth = _true_scores(metric, codes, queries)
    rng = np.random.default_rng(1)
    for allowed in _random_filters(keys, rng):
        for k in (1, 10, 50):
            scores, found = index.search_among(queries, k, allowed)
            _check_exact(scores, found, truth, keys, allowed, k)


@pytest.mark.parametrize("spec", BINARY_SPECS)
def test_binary_filters_equal_brute_force(spec):
    rng = np.random.default_rng(2)
    width = 16 + BITS if spec.startswith("TwoStage") else BITS
    bits = rng.integers(0, 2, size=(N, width)).astype(bool)
    keys = rng.permutation(10 * N)[:N].astype(np.int64)
    query_bits = rng.integers(0, 2, size=(4, width)).astype(bool)
    index = create_index(spec, width, "hamming")
    index.add(keys, pack_bits(bits))
    scored = slice(16, None) if spec.startswith("TwoStage") else slice(None)  # two-stage ranks by the long code
    truth = 1.0 - (query_bits[:, None, scored] != bits[None, :, scored]).sum(axis=2) / BITS
    for allowed in _random_filters(keys, rng):
        for k in (1, 10, 50):
            scores, found = index.search_among(pack_bits(query_bits), k, allowed)
            _check_exact(scores, found, truth, keys, allowed, k)


def test_a_filter_that_matches_nothing_gives_no_hits():
    keys, codes, queries = _float_data("cosine")
    index = create_index("IDMap2,Flat", DIM, "cosine")
    index.add(keys, codes)
    scores, found = index.search_among(queries, 10, np.array([], dtype=np.int64))
    assert (found == -1).all() and np.isneginf(scores).all()


def test_where_is_parsed_and_bad_filters_are_refused():
    assert parse_where(None) is None and parse_where({}) is None
    assert parse_where({"label": "a"}) == Where(labels=("a",))
    assert parse_where({"label": ["b", "a"], "id_prefix": "x/"}) == Where(labels=("a", "b"), id_prefix="x/")
    for bad, says in [({"lable": "a"}, "no field 'lable'"), ({"label": 3}, "label"), ({"id_prefix": ""}, "id_prefix"),
                      ({"label": ["a", 2]}, "label")]:  # fmt: skip
        with pytest.raises(retrieval.InvalidParameterError, match=says):
            parse_where(bad)


@pytest.fixture(scope="module")
def fake_collection(tmp_path_factory, docs):
    return build_once(tmp_path_factory, docs, **FAKE)


def test_collection_filters_by_label_list_and_id_prefix(fake_collection):
    with retrieval.open(fake_collection) as col:
        # the codes' ranking filtered is the unfiltered one restricted (hybrid fuses ranks among the matching items)
        everything = col.search("orbit rocket", k=len(col), mode="codes")
        space = col.search("orbit rocket", k=50, where={"label": "space"}, mode="codes")
        assert len(space) == 12 and {h.label for h in space} == {"space"}  # all 12 space items, not k - dropped
        assert [h.id for h in space] == [h.id for h in everything if h.label == "space"]
        assert {h.id for h in col.search("orbit rocket", k=50, where={"label": "space"})} == {h.id for h in space}
        two = col.search("orbit rocket", k=5, where={"label": ["autos", "medicine"]})
        assert len(two) == 5 and {h.label for h in two} <= {"autos", "medicine"}
        prefixed = col.search("orbit rocket", k=3, where={"id_prefix": "medicine/medicine-0"})  # ids: relative paths
        assert len(prefixed) == 3 and all(h.id.startswith("medicine/medicine-0") for h in prefixed)
        assert col.search("orbit", k=3, where={"id_prefix": "MEDICINE"}) == []  # case-sensitive
        assert col.search("orbit", k=3, where={"label": "space", "id_prefix": "autos/"}) == []  # both must hold
        like = col.search_by_id("space/space-00.txt", k=4, where={"label": "autos"})
        assert len(like) == 4 and {h.label for h in like} == {"autos"}
        batch = col.search_batch(["orbit", "engine"], k=2, where={"label": "medicine"})
        assert [len(b) for b in batch] == [2, 2] and all(h.label == "medicine" for b in batch for h in b)
        with pytest.raises(retrieval.InvalidParameterError, match="no field"):
            col.search("orbit", where={"colour": "red"})


def test_cli_query_takes_label_and_id_prefix(fake_collection):
    runner = CliRunner()
    result = runner.invoke(main, ["query", str(fake_collection), "engine", "-k", "3", "--label", "space",
                                  "--label", "medicine", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 3 and {h["label"] for h in hits} <= {"space", "medicine"}
    result = runner.invoke(main, ["query", str(fake_collection), "engine", "--id-prefix", "autos/autos-1", "--json"])
    found = json.loads(result.output)
    assert result.exit_code == 0 and len(found) == 2 and all(h["id"].startswith("autos/autos-1") for h in found)


def test_a_filter_sees_items_added_after_it_was_first_used(tmp_path, docs):
    from .conftest import write_corpus

    retrieval.index_source(write_corpus(tmp_path / "corpus", docs), tmp_path / "c.aer", **FAKE)
    with retrieval.open(tmp_path / "c.aer") as col:
        assert len(col.search("orbit", k=50, where={"label": "space"})) == 12
        col.add([retrieval.Document(id="new-space", text="orbit rocket launch", label="space")])
        found = col.search("orbit", k=50, where={"label": "space"})
        assert len(found) == 13 and "new-space" in {h.id for h in found}
        col.delete(["new-space"])
        assert len(col.search("orbit", k=50, where={"label": "space"})) == 12
    with retrieval.open(tmp_path / "c.aer") as reader, retrieval.open(tmp_path / "c.aer") as writer:
        assert len(reader.search("orbit", k=50, where={"label": "autos"})) == 12
        writer.add([retrieval.Document(id="elsewhere", text="engine brake", label="autos")])
        assert len(reader.search("orbit", k=50, where={"label": "autos"})) == 12  # its index has not the new item

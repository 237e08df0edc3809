"""Index choice by size and budget, IVF indexes, and recall measured against exact search."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexers import RecallProbe, choose_index, create_index, pack_bits, parse_size, parse_spec, recall_at_k
from retrieval import index_source
from retrieval import open as open_collection
from retrieval.errors import CollectionError


def test_small_collections_get_exact_search():
    choice = choose_index(10_000, 32, binary=False)
    assert choice.spec == "IDMap2,Flat" and choice.exact
    assert "exact search" in choice.reason
    assert choose_index(1_000_000, 64, binary=True).spec == "BFlat"
    assert choice.as_dict() == {"spec": "IDMap2,Flat", "reason": choice.reason, "exact": True}


def test_large_real_valued_collections_get_ivf_sized_by_the_training_sample():
    choice = choose_index(10_000_000, 32, binary=False, train_items=100_000)
    spec = parse_spec(choice.spec)
    assert spec.is_ivf and spec.structure.endswith(",Flat") and not choice.exact
    nlist = int(spec.structure.split("IVF")[1].split(",")[0])
    assert nlist & (nlist - 1) == 0 and 39 * nlist <= 100_000  # a power of two the sample can train
    assert 1 <= spec.param("nprobe") <= nlist and "target 10 ms" in choice.reason
    index = create_index(choice.spec, 32, "cosine")  # the spec carries the search parameter: nothing to set after
    assert index.nprobe == spec.param("nprobe") and index.spec == choice.spec


def test_a_memory_budget_below_flat_size_picks_product_quantisation():
    choice = choose_index(1_000_000, 32, binary=False, train_items=100_000, memory_budget=parse_size("32MB"))
    structure = parse_spec(choice.spec).structure
    assert ",PQ" in structure and parse_spec(choice.spec).param("nprobe")
    pq_bytes = int(structure.rsplit("PQ", 1)[1])
    assert 32 % pq_bytes == 0 and 1_000_000 * (pq_bytes + 8) <= parse_size("32MB")
    assert "exceeds the memory budget" in choice.reason
    assert choose_index(1_000_000, 32, binary=False, train_items=1000, memory_budget=1000).spec == "IDMap2,SQ8"


def test_large_binary_collections_get_a_hash_index_with_one_flip():
    choice = choose_index(10_000_000, 64, binary=True, target_latency_ms=5)
    assert choice.spec == "BHash2x32,nflip=1" and not choice.exact
    sharded = create_index(f"Shards2,{choice.spec}", 64, "hamming")  # every shard gets the radius
    assert [s.nflip for s in sharded.shards] == [1, 1]
    assert choose_index(10_000_000, 16, binary=True, target_latency_ms=1).spec == "BHash16,nflip=1"


@pytest.mark.parametrize("text, expected", [("512MB", 512 * 2**20), ("2G", 2 * 2**30), ("1.5KiB", 1536), ("100", 100)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_refuses_nonsense():
    with pytest.raises(ValueError, match="memory budget"):
        parse_size("lots")


def test_recall_at_k_counts_the_true_neighbours_found():
    truth = np.array([[1, 2, 3, 4], [5, 6, -1, -1], [-1, -1, -1, -1]])
    found = np.array([[4, 9, 1, 8], [6, 5, 7, -1], [3, -1, -1, -1]])
    assert recall_at_k(found, truth, 4) == pytest.approx((2 / 4 + 2 / 2) / 2)  # the empty third row is left out
    assert recall_at_k(found, truth, 2) == pytest.approx((0 / 2 + 2 / 2) / 2)  # only the first k columns count
    assert recall_at_k(truth, truth, 4) == 1.0 and recall_at_k(found[2:], truth[2:], 4) == 1.0
    # with scores, an item tied with the true k-th neighbour is no miss
    true_scores = np.array([[0.9, 0.8, 0.7]])
    tied = recall_at_k([[1, 2, 7]], [[1, 2, 3]], 3, found_scores=[[0.9, 0.8, 0.7]], true_scores=true_scores)
    worse = recall_at_k([[1, 2, 7]], [[1, 2, 3]], 3, found_scores=[[0.9, 0.8, 0.6]], true_scores=true_scores)
    assert tied == 1.0 and worse == pytest.approx(2 / 3)
    assert recall_at_k([[1, 2, 7]], [[1, 2, 3]], 3) == pytest.approx(2 / 3)  # by keys alone, 7 is a miss
    with pytest.raises(ValueError, match="rows"):
        recall_at_k(found, truth[:2], 4)


def test_recall_probe_is_exact_for_an_exact_index_and_lower_for_a_coarse_one():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(4000, 16)).astype(np.float32)
    exact = create_index("IDMap2,Flat", 16, "cosine")
    coarse = create_index("IVF64,Flat,nprobe=1", 16, "cosine")
    coarse.train(codes)
    probe = RecallProbe(codes[:50], k=10, metric="cosine")
    for start in range(0, 4000, 500):  # codes arrive in batches, as during ingest
        keys, batch = np.arange(start, start + 500), codes[start : start + 500]
        exact.add(keys, batch)
        coarse.add(keys, batch)
        probe.update(keys, batch)
    assert probe.recall(exact) == pytest.approx(1.0)
    assert 0.0 < probe.recall(coarse) < 0.9
    assert (probe.best_keys[:, 0] == np.arange(50)).all()  # each probe query's nearest code is itself


def test_recall_probe_on_binary_codes_counts_ties_as_found():
    rng = np.random.default_rng(2)
    codes = pack_bits(rng.random((2000, 32)) > 0.5)
    exact = create_index("BFlat", 32, "hamming")
    exact.add(np.arange(2000), codes)
    probe = RecallProbe(codes[:20], k=10, metric="hamming")
    probe.update(np.arange(2000), codes)
    assert probe.recall(exact) == 1.0
    hashed = create_index("BHash32,nflip=0", 32, "hamming")
    hashed.add(np.arange(2000), codes)
    assert probe.recall(hashed) == pytest.approx(0.1)  # only the query itself shares its 32-bit bucket


def test_index_chooses_and_explains_ivf_with_a_tight_latency_target(tmp_path, corpus_dir):
    report = index_source(corpus_dir, tmp_path / "c", encoder="lsa", dim=8, target_latency_ms=1e-6)
    assert report.added == 36
    with open_collection(tmp_path / "c") as col:
        info = col.info()
        assert info["index"].startswith("IDMap2,IVF16,Flat")
        assert "> target" in info["index_reason"]
        assert 0.0 < info["index_recall_at_10"] <= 1.0
        assert col.search("rocket orbit", 3)
    manifest = json.loads((tmp_path / "c" / "collection.json").read_text())
    assert manifest["index_choice"]["items"] == 36 and manifest["index_choice"]["probe_queries"] == 36


def test_a_binary_collection_past_its_latency_target_gets_the_hash_index_with_one_flip(tmp_path, corpus_dir):
    index_source(corpus_dir, tmp_path / "c", encoder="fake-text", bits=16, target_latency_ms=1e-6)
    with open_collection(tmp_path / "c") as col:
        assert col.index.spec == "BHash16,nflip=1" and col.index.nflip == 1
        assert "hash lookup" in col.info()["index_reason"]
        assert 0.0 < col.info()["index_recall_at_10"] <= 1.0


def test_an_index_that_cannot_be_trained_leaves_no_collection(tmp_path, corpus_dir):
    with pytest.raises(CollectionError, match="cannot train the index"):
        index_source(corpus_dir, tmp_path / "c", encoder="lsa", dim=8, index="IDMap2,IVF16,PQ4")
    assert not (tmp_path / "c").exists() and not list(tmp_path.glob(".c.creating-*"))

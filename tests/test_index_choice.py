"""Index choice by size and budget, IVF indexes, and recall measured against exact search."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexers import BinaryIndex, FloatIndex, RecallProbe, choose_index, pack_bits, parse_size
from retrieval import index_source
from retrieval import open as open_collection
from retrieval.errors import CollectionError

from .conftest import FAST_AE


def test_small_collections_get_exact_search():
    choice = choose_index(10_000, 32, binary=False)
    assert choice.spec == "IDMap2,Flat" and choice.exact
    assert "exact search" in choice.reason
    assert choose_index(1_000_000, 64, binary=True).spec == "BFlat"


def test_large_real_valued_collections_get_ivf_sized_by_the_training_sample():
    choice = choose_index(10_000_000, 32, binary=False, train_items=100_000)
    assert choice.spec.startswith("IDMap2,IVF") and choice.spec.endswith(",Flat") and not choice.exact
    nlist = int(choice.spec.split("IVF")[1].split(",")[0])
    assert nlist & (nlist - 1) == 0 and 39 * nlist <= 100_000  # a power of two the sample can train
    assert choice.nprobe is not None and 1 <= choice.nprobe <= nlist
    assert "target 10 ms" in choice.reason


def test_a_memory_budget_below_flat_size_picks_product_quantisation():
    choice = choose_index(1_000_000, 32, binary=False, train_items=100_000, memory_budget=parse_size("32MB"))
    assert ",PQ" in choice.spec
    pq_bytes = int(choice.spec.rsplit("PQ", 1)[1])
    assert 32 % pq_bytes == 0 and 1_000_000 * (pq_bytes + 8) <= parse_size("32MB")
    assert "exceeds the memory budget" in choice.reason


def test_large_binary_collections_get_a_hash_index():
    choice = choose_index(10_000_000, 64, binary=True, target_latency_ms=5)
    assert choice.spec == "BHash2x32" and choice.nflip == 1 and not choice.exact
    BinaryIndex(64, choice.spec, nflip=choice.nflip)  # a spec the binary index accepts
    assert choose_index(10_000_000, 16, binary=True, target_latency_ms=1).spec == "BHash16"


@pytest.mark.parametrize("text, expected", [("512MB", 512 * 2**20), ("2G", 2 * 2**30), ("1.5KiB", 1536), ("100", 100)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_refuses_nonsense():
    with pytest.raises(ValueError, match="memory budget"):
        parse_size("lots")


def test_ivf_index_keeps_stable_keys_through_remove_reconstruct_and_save(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(3000, 16)).astype(np.float32)
    index = FloatIndex(16, "IDMap2,IVF32,Flat")
    index.train(codes)
    index.add(np.arange(3000) * 5, codes)
    assert index.nprobe == 8
    index.remove(np.array([0, 5]))
    index.save(tmp_path / "ivf.faiss")
    loaded = FloatIndex.load(tmp_path / "ivf.faiss", "IDMap2,IVF32,Flat")
    assert len(loaded) == 2998 and loaded.nprobe == 8
    assert sorted(loaded.keys())[:2] == [10, 15]
    expected = codes[2] / np.linalg.norm(codes[2])
    np.testing.assert_allclose(loaded.reconstruct(10), expected, rtol=1e-5)
    with pytest.raises(KeyError):
        loaded.reconstruct(5)


def test_recall_probe_is_exact_for_an_exact_index_and_lower_for_a_coarse_one():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(4000, 16)).astype(np.float32)
    exact = FloatIndex(16)
    coarse = FloatIndex(16, "IDMap2,IVF64,Flat")
    coarse.train(codes)
    coarse.nprobe = 1
    probe = RecallProbe(codes[:50], k=10, metric="cosine")
    for start in range(0, 4000, 500):  # codes arrive in batches, as during ingest
        keys, batch = np.arange(start, start + 500), codes[start : start + 500]
        exact.add(keys, batch)
        coarse.add(keys, batch)
        probe.update(keys, batch)
    assert probe.recall(exact) == pytest.approx(1.0)
    assert 0.0 < probe.recall(coarse) < 0.9


def test_recall_probe_on_binary_codes_counts_ties_as_found():
    rng = np.random.default_rng(2)
    codes = pack_bits(rng.random((2000, 32)) > 0.5)
    exact = BinaryIndex(32)
    exact.add(np.arange(2000), codes)
    probe = RecallProbe(codes[:20], k=10, metric="hamming")
    probe.update(np.arange(2000), codes)
    assert probe.recall(exact) == 1.0


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
    options = {**FAST_AE, "dim": None, "bits": 16}
    index_source(corpus_dir, tmp_path / "c", encoder="ae", target_latency_ms=1e-6, **options)
    with open_collection(tmp_path / "c") as col:
        assert col.index.spec == "BHash16" and col.index.nflip == 1
        assert "hash lookup" in col.info()["index_reason"]
        assert 0.0 < col.info()["index_recall_at_10"] <= 1.0


def test_an_index_that_cannot_be_trained_leaves_no_collection(tmp_path, corpus_dir):
    with pytest.raises(CollectionError, match="cannot train the index"):
        index_source(corpus_dir, tmp_path / "c", encoder="lsa", dim=8, index="IDMap2,IVF16,PQ4")
    assert not (tmp_path / "c").exists()

"""A sharded index answers exactly as one index over the same codes: locally and on a Ray cluster."""

from __future__ import annotations

import numpy as np
import pytest

from indexers import FloatIndex, create_index, load_index, merge_top_k, pack_bits
from retrieval import index_source
from retrieval import open as open_collection


def _filled(shards: int, codes: np.ndarray, keys: np.ndarray, spec: str, dim: int, metric: str) -> tuple:
    single, sharded = create_index(spec, dim, metric), create_index(f"Shards{shards},{spec}", dim, metric)
    single.add(keys, codes)
    sharded.add(keys, codes)
    return single, sharded


@pytest.mark.parametrize("shards", [1, 3, 4])
@pytest.mark.parametrize("k", [1, 10, 57])
def test_merged_top_k_equals_the_single_index(shards, k):
    rng = np.random.default_rng(shards * 100 + k)
    codes = rng.normal(size=(500, 12)).astype(np.float32)
    keys = rng.permutation(10_000)[:500]
    single, sharded = _filled(shards, codes, keys, "IDMap2,Flat", 12, "cosine")
    queries = rng.normal(size=(20, 12)).astype(np.float32)
    want_scores, want_keys = single.search(queries, k)
    got_scores, got_keys = sharded.search(queries, k)
    np.testing.assert_array_equal(got_keys, want_keys)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6)


def test_binary_shards_give_the_same_distances_as_one_index():
    rng = np.random.default_rng(7)
    codes = pack_bits(rng.random((800, 64)) > 0.5)
    single, sharded = _filled(3, codes, np.arange(800), "BFlat", 64, "hamming")
    want, _ = single.search(codes[:30], 15)
    got, got_keys = sharded.search(codes[:30], 15)
    np.testing.assert_array_equal(got, want)  # Hamming ties may order keys differently, never scores
    assert (got_keys[:, 0] == np.arange(30)).all()


def test_merge_marks_missing_places_with_minus_one():
    scores, keys = merge_top_k(
        [np.array([[0.9, 0.5]]), np.array([[0.7, -3e38]])], [np.array([[4, 6]]), np.array([[5, -1]])], 4
    )
    assert keys.tolist() == [[4, 5, 6, -1]]
    np.testing.assert_allclose(scores[0, :3], [0.9, 0.7, 0.5])


def test_sharded_index_routes_removals_and_round_trips_through_a_file(tmp_path):
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(300, 8)).astype(np.float32)
    sharded = create_index("Shards3,IDMap2,Flat", 8, "cosine")
    sharded.add(np.arange(300), codes)
    assert sharded.remove(np.array([0, 1, 2, 999])) == 3
    sharded.save(tmp_path / "index")
    loaded = load_index(tmp_path / "index", "Shards3,IDMap2,Flat", "cosine")
    assert len(loaded) == 297 and sorted(loaded.keys().tolist()) == list(range(3, 300))
    np.testing.assert_allclose(loaded.reconstruct(4), codes[4] / np.linalg.norm(codes[4]), rtol=1e-5)


def test_a_sharded_collection_searches_like_an_unsharded_one(tmp_path, corpus_dir):
    index_source(corpus_dir, tmp_path / "one", encoder="lsa", dim=8)
    index_source(corpus_dir, tmp_path / "three", encoder="lsa", dim=8, shards=3)
    with open_collection(tmp_path / "one") as one, open_collection(tmp_path / "three") as three:
        assert three.info()["index"].startswith("3 shards of IDMap2,Flat")
        for query in ("rocket orbit launch", "engine wheel", "doctor patient"):
            assert [h.id for h in three.search(query, 12)] == [h.id for h in one.search(query, 12)]
        gone = "space/space-00.txt"
        assert gone in [h.id for h in three.search("rocket orbit launch", 36)]  # there before the delete
        assert three.delete([gone]) == [gone]
        assert gone not in [h.id for h in three.search("rocket orbit launch", 36)]
        assert len(three) == len(three.index) == 35


def test_the_chosen_flip_count_reaches_every_shard(tmp_path, corpus_dir):
    """What ``aer info`` says the hash index probes is what each shard probes, after a reopen too."""
    index_source(corpus_dir, tmp_path / "c", encoder="fake-text", bits=64, shards=2, target_latency_ms=1e-9)
    with open_collection(tmp_path / "c") as col:
        info = col.info()
        assert "1 flip" in info["index_reason"] and "nflip=1" in info["index_spec"]
        assert [shard.nflip for shard in col.index.shards] == [1, 1]
        key = int(col.index.keys()[7])  # a stored code is in its own bucket, whichever shard holds it
        _, found = col.search_codes(col.index.reconstruct(key)[None, :], 1)
        assert found.tolist() == [[key]]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from retrieval import cluster

    cluster.connect("local", num_cpus=2)
    yield
    ray.shutdown()


def test_ray_cluster_build_and_search_equal_a_single_index_on_the_same_codes(tmp_path, corpus_dir, local_ray):
    report = index_source(corpus_dir, tmp_path / "c", encoder="lsa", dim=8, ray="local", shards=3)
    assert report.added == 36
    with open_collection(tmp_path / "c", ray="local") as col:
        assert col.info()["index"].startswith("3 shards of")
        assert all(not isinstance(s, FloatIndex) for s in col.index.shards)  # held by actors
        keys = col.index.keys()
        single = create_index("IDMap2,Flat", 8, "cosine")
        single.add(keys, np.stack([col.index.reconstruct(k) for k in keys]))
        queries = ["rocket orbit launch", "engine wheel", "doctor patient", "people think good"]
        codes = col.encode(queries)
        for k in (1, 5, 36):
            want_scores, want_keys = single.search(codes, k)
            got_scores, got_keys = col.search_codes(codes, k)
            np.testing.assert_array_equal(got_keys, want_keys)
            np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)
        on_cluster = [h.id for h in col.search("rocket orbit launch", 10)]
    with open_collection(tmp_path / "c") as local:  # the same collection without Ray
        assert [h.id for h in local.search("rocket orbit launch", 10)] == on_cluster
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "extra-1", "text": "rocket orbit launch shuttle"}\n')
    assert index_source(more, tmp_path / "c", ray="local").added == 1  # adding through the cluster
    with open_collection(tmp_path / "c") as local:
        assert len(local) == 37 and len(local.index) == 37
        assert "extra-1" in [h.id for h in local.search("rocket orbit launch", 37)]


def test_an_unsharded_collection_opened_on_ray_is_searched_here(tmp_path, corpus_dir, local_ray):
    index_source(corpus_dir, tmp_path / "c", encoder="lsa", dim=8)
    with open_collection(tmp_path / "c") as local, open_collection(tmp_path / "c", ray="local") as on_ray:
        assert isinstance(on_ray.index, FloatIndex)
        assert [h.id for h in on_ray.search("engine wheel", 5)] == [h.id for h in local.search("engine wheel", 5)]

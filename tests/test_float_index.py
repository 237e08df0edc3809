"""What is specific to real-valued codes: faiss spec strings, IVF's nprobe, old files, file checks.

The behaviour every index shares (add, search, remove, save ...) is tests/test_index_contract.py's.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from safetensors.numpy import save_file

from indexers import FloatIndex, IndexFileError, check_spec, create_index, load_index


@pytest.fixture
def codes():
    return np.random.default_rng(0).normal(size=(2000, 16)).astype(np.float32)


def test_specs_keep_ids_with_or_without_the_prefix():
    assert check_spec("Flat", "cosine") == check_spec("IDMap2,Flat", "l2") == "IDMap2,Flat"
    assert create_index("SQfp16", 8, "cosine").spec == "IDMap2,SQfp16"
    with pytest.raises(ValueError, match="under 'IDMap2,'"):
        check_spec("IDMap,Flat", "cosine")
    with pytest.raises(ValueError, match="'spec' parameter for cosine codes must be a real-valued faiss spec"):
        check_spec("BFlat", "cosine")
    with pytest.raises(ValueError, match="could not parse"):
        check_spec("IVF16,Flatt", "l2")
    with pytest.raises(ValueError, match="multiple of the number of subquantizers"):
        check_spec("PQ5", "l2", dim=16)  # faiss's reason, before any training
    assert check_spec("PQ5", "l2") == "IDMap2,PQ5"  # some width fits it: checked again once the width is known
    with pytest.raises(ValueError, match="'metric' parameter must be one of"):
        check_spec("Flat", "dot")


def test_ivf_nprobe_defaults_is_saved_and_a_spec_can_replace_it(codes, tmp_path):
    index = create_index("IVF64,Flat", 16, "cosine")
    assert index.nprobe == 8 and index.spec == "IDMap2,IVF64,Flat,nprobe=8"  # faiss's 1 is too few
    index.train(codes)
    index.add(np.arange(2000), codes)
    index.nprobe = 1
    index.save(tmp_path / "ivf")
    assert load_index(tmp_path / "ivf", "IDMap2,IVF64,Flat", "cosine").nprobe == 1  # the saved one
    wide = load_index(tmp_path / "ivf", "IVF64,Flat,nprobe=64", "cosine")
    assert wide.describe() == "IDMap2,IVF64,Flat (inner product, nprobe 64)"
    exact = create_index("Flat", 16, "cosine")
    exact.add(np.arange(2000), codes)
    queries = codes[:40] + 0.3
    np.testing.assert_array_equal(wide.search(queries, 5)[1], exact.search(queries, 5)[1])  # every list: exact
    narrow = load_index(tmp_path / "ivf", "IVF64,Flat", "cosine")
    assert (narrow.search(queries, 5)[1] != exact.search(queries, 5)[1]).any()  # one list misses some
    assert create_index("IVF8,Flat,nprobe=100", 16, "l2").nprobe == 8  # capped at the lists there are
    with pytest.raises(ValueError, match="an IVF spec to take the 'nprobe' parameter"):
        create_index("Flat,nprobe=4", 16, "l2")
    with pytest.raises(ValueError, match="'nprobe' parameter does not apply"):
        create_index("Flat", 16, "l2").set_params({"nprobe": 4})


def test_files_written_before_the_factory_still_load(codes, tmp_path):
    """Flat, IVF and sharded files as the old FloatIndex / ShardedIndex wrote them (IVF unwrapped, hash direct map)."""
    flat = faiss.index_factory(16, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT)
    normed = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    flat.add_with_ids(normed, np.arange(2000, dtype=np.int64) * 5)
    faiss.write_index(flat, str(tmp_path / "flat"))
    ivf = faiss.index_factory(16, "IVF32,Flat", faiss.METRIC_L2)
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    ivf.train(codes)
    ivf.add_with_ids(codes, np.arange(2000, dtype=np.int64))
    ivf.nprobe = 8
    faiss.write_index(ivf, str(tmp_path / "ivf"))
    old_flat = load_index(tmp_path / "flat", "IDMap2,Flat", "cosine")
    assert old_flat.spec == "IDMap2,Flat" and len(old_flat) == 2000
    np.testing.assert_array_equal(old_flat.search(normed[:3], 1)[1][:, 0], [0, 5, 10])
    shards = [faiss.index_factory(16, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT) for _ in range(2)]
    for i, shard in enumerate(shards):  # key k in shard k % 2, as the old ShardedIndex kept them
        shard.add_with_ids(normed[i::2], np.arange(i, 2000, 2, dtype=np.int64))
    arrays = {f"shard_{i}": faiss.serialize_index(shard) for i, shard in enumerate(shards)}
    save_file(arrays, str(tmp_path / "sharded"), metadata={"format": "ae-retrieval-sharded", "shards": "2"})
    old_sharded = load_index(tmp_path / "sharded", "Shards2,IDMap2,Flat", "cosine")  # "shards": 2 beside the spec
    assert old_sharded.spec == "Shards2,IDMap2,Flat" and len(old_sharded) == 2000
    np.testing.assert_array_equal(old_sharded.search(normed[:4], 1)[1][:, 0], [0, 1, 2, 3])
    with pytest.raises(IndexFileError, match="holds 2 shards, not the 3"):
        load_index(tmp_path / "sharded", "Shards3,IDMap2,Flat", "cosine")
    old_ivf = load_index(tmp_path / "ivf", "IDMap2,IVF32,Flat", "l2")
    assert old_ivf.spec == "IDMap2,IVF32,Flat,nprobe=8" and old_ivf.remove(np.array([0, 1])) == 2
    np.testing.assert_allclose(old_ivf.reconstruct(7), codes[7])
    with pytest.raises(KeyError):
        old_ivf.reconstruct(0)


def test_a_file_of_another_kind_is_a_clear_error(codes, tmp_path):
    (tmp_path / "bad.faiss").write_bytes(b"junk")
    with pytest.raises(IndexFileError, match="bad.faiss: not a readable FAISS index"):
        load_index(tmp_path / "bad.faiss", "IDMap2,Flat", "cosine")
    index = create_index("Flat", 16, "l2")
    index.add(np.arange(5), codes[:5])
    index.save(tmp_path / "l2.faiss")
    with pytest.raises(IndexFileError, match="for l2 codes, not cosine"):
        load_index(tmp_path / "l2.faiss", "IDMap2,Flat", "cosine")
    with pytest.raises(IndexFileError, match="not the IDMap2,IVF16,Flat index"):
        load_index(tmp_path / "l2.faiss", "IVF16,Flat", "l2")
    with pytest.raises(ValueError, match="codes have shape"):
        index.add(np.arange(2), codes[:2, :8])


def test_the_class_takes_a_structure_and_a_metric(codes):
    index = FloatIndex(16, "Flat", metric="l2")  # what the factory builds for "Flat" with l2
    assert index.structure == "IDMap2,Flat" and index.metric == "l2" and index.params() == {}
    with pytest.raises(ValueError, match="'metric' parameter of FloatIndex"):
        FloatIndex(16, metric="hamming")


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_a_batch_of_queries_gets_faiss_own_exact_hits(codes, metric):
    """Batches of BATCH_FROM queries or more skip faiss's heaps (indexers/flat_scan.py): same hits, same order,
    after removals too, for a batch that is not a whole number of blocks and for k = every item."""
    from indexers.flat_scan import BATCH_FROM, BLOCK

    index = FloatIndex(16, metric=metric)
    index.add(np.arange(len(codes)) * 5 + 3, codes)
    index.remove(np.arange(0, 2000, 7) * 5 + 3)
    queries = np.random.default_rng(1).normal(size=(BATCH_FROM + BLOCK + 5, 16)).astype(np.float32)
    for k in (10, len(index)):
        scores, keys = index.search(queries, k)
        want_d, want_keys = index._index.search(index._prepared(queries), k)
        want_scores, _ = index._scored(want_d, want_keys)
        assert keys.shape == (len(queries), k)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
        assert (keys == want_keys).mean() > 0.999  # float rounding may swap a near-tie
        assert all(set(row) <= set(index.keys()) for row in keys[:, :10])

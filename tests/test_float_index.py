from __future__ import annotations

import numpy as np
import pytest

from indexers import FloatIndex, IndexFileError


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 16)).astype(np.float32), rng.normal(size=(5, 16)).astype(np.float32)


def brute_force(db, q, k):
    db = db / np.linalg.norm(db, axis=1, keepdims=True)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(q @ db.T), axis=1)[:, :k]


def test_search_matches_brute_force_cosine(data):
    db, q = data
    index = FloatIndex(16)
    keys = np.arange(1000, 1200)
    index.add(keys, db)
    scores, got = index.search(q, 10)
    np.testing.assert_array_equal(got, keys[brute_force(db, q, 10)])
    assert np.all(np.diff(scores, axis=1) <= 1e-6) and scores.max() <= 1.0 + 1e-5


def test_remove_and_reconstruct(data):
    db, q = data
    index = FloatIndex(16)
    index.add(np.arange(200), db)
    assert index.remove(np.array([0, 1, 999])) == 2
    assert len(index) == 198
    _, got = index.search(db[:2], 5)
    assert not np.isin(got, [0, 1]).any()
    np.testing.assert_allclose(index.reconstruct(5), db[5] / np.linalg.norm(db[5]), rtol=1e-5)
    with pytest.raises(KeyError):
        index.reconstruct(0)


def test_k_larger_than_index_and_empty_index(data):
    db, q = data
    index = FloatIndex(16)
    _, got = index.search(q, 3)
    assert (got == -1).all()
    index.add(np.arange(3), db[:3])
    _, got = index.search(q, 10)
    assert got.shape == (5, 3)


def test_save_load_keeps_keys_and_results(data, tmp_path):
    db, q = data
    index = FloatIndex(16)
    index.add(np.arange(7, 207), db)
    index.save(tmp_path / "i.faiss")
    again = FloatIndex.load(tmp_path / "i.faiss")
    for a, b in zip(index.search(q, 10), again.search(q, 10)):
        np.testing.assert_array_equal(a, b)
    assert 16 * 4 + 8 <= index.bytes_per_item() < 16 * 4 + 40


def test_corrupt_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.faiss").write_bytes(b"junk")
    with pytest.raises(IndexFileError, match="bad.faiss"):
        FloatIndex.load(tmp_path / "bad.faiss")


def test_spec_must_keep_ids():
    with pytest.raises(ValueError, match="IDMap2"):
        FloatIndex(8, "Flat")


def test_l2_metric_matches_brute_force_and_survives_reload(data, tmp_path):
    db, q = data
    index = FloatIndex(16, metric="l2")
    index.add(np.arange(200), db)
    scores, got = index.search(q, 5)
    dist = np.linalg.norm(q[:, None, :] - db[None], axis=2)
    np.testing.assert_array_equal(got, np.argsort(dist, axis=1)[:, :5])
    np.testing.assert_allclose(-scores, np.sort(dist, axis=1)[:, :5], rtol=1e-4)
    index.save(tmp_path / "l2.faiss")
    again = FloatIndex.load(tmp_path / "l2.faiss")
    assert again.metric == "l2" and "L2" in again.index_type()
    np.testing.assert_array_equal(again.search(q, 5)[1], got)

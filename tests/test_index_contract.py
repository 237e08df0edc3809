"""The contract every index the factory builds keeps, checked against brute force on small seeded data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from indexers import (
    ShardedIndex,
    check_spec,
    create_index,
    hamming_distances,
    index_from_bytes,
    load_index,
    pack_bits,
    parse_spec,
    recall_at_k,
)  # fmt: skip

N, NQ, K = 300, 24, 10


@dataclass(frozen=True)
class Case:
    spec: str
    metric: str
    dim: int  # floats, or bits (short + long for two-stage)
    tol: float | None = 1e-5  # how far a returned score may be from the key's true score (None: quantised codes)
    exact: bool = True  # whether the top-k scores equal brute force's
    min_recall: float = 1.0  # recall@10 against brute force, at least

    @property
    def id(self) -> str:
        return f"{self.spec}-{self.metric}"


FLOAT = [
    case
    for metric in ("cosine", "l2")
    for case in (
        Case("IDMap2,Flat", metric, 16),
        Case("SQfp16", metric, 16, tol=1e-2),
        Case("IVF8,Flat,nprobe=8", metric, 16),  # every list probed: exact
        Case("IVF8,PQ8x4", metric, 16, tol=None, exact=False, min_recall=0.5),
    )
]
# Hash lookups miss neighbours whose hashed bits differ more than nflip; chance recall would be K / N = 0.03.
CASES = FLOAT + [
    Case("BFlat", "hamming", 64),
    Case("BHash16", "hamming", 64, exact=False, min_recall=0.15),
    Case("BHash2x16,nflip=1", "hamming", 64, exact=False, min_recall=0.08),
    Case("TwoStage8", "hamming", 8 + 32, exact=False, min_recall=0.3),
    Case("Shards3,IDMap2,Flat", "cosine", 16),
    Case("Shards3,BHash16,nflip=1", "hamming", 64, exact=False, min_recall=0.08),
]


def make_codes(case: Case, n: int, seed: int) -> np.ndarray:
    """Float codes in a few clusters, or packed bits whose hashed leading bits cluster round 4 centres."""
    rng = np.random.default_rng(seed)
    if case.metric != "hamming":
        centres = rng.normal(size=(6, case.dim)) * 3
        return (centres[rng.integers(0, 6, n)] + rng.normal(size=(n, case.dim))).astype(np.float32)
    bits = rng.integers(0, 2, size=(n, case.dim), dtype=np.uint8)
    head = 8 if case.spec.startswith("TwoStage") else 16
    centres = rng.integers(0, 2, size=(4, head), dtype=np.uint8)
    flips = rng.random((n, head)) < 0.1
    bits[:, :head] = centres[rng.integers(0, 4, n)] ^ flips
    return pack_bits(bits)


def true_scores(case: Case, queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Every (query, item) score as the indexes define it, computed with numpy."""
    if case.metric == "cosine":
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        return q @ (codes / np.linalg.norm(codes, axis=1, keepdims=True)).T
    if case.metric == "l2":
        return -np.linalg.norm(queries[:, None, :] - codes[None, :, :], axis=2)
    if case.spec.startswith("TwoStage"):  # ranked by the long code: the bytes after the short one
        return 1 - hamming_distances(queries[:, 1:], codes[:, 1:]) / (case.dim - 8)
    return 1 - hamming_distances(queries, codes) / case.dim


SLOW_SPECS = {"IVF8,PQ8x4"}  # each test trains its product quantizer afresh, the slowest here: `make test-all`


@pytest.fixture(params=[pytest.param(c, id=c.id, marks=[pytest.mark.slow] * (c.spec in SLOW_SPECS)) for c in CASES])
def case(request) -> Case:
    return request.param


@pytest.fixture
def filled(case):
    """(index, keys, codes, queries): N codes under scattered keys; queries are stored codes and new ones."""
    codes = make_codes(case, N, 0)
    keys = np.random.default_rng(1).permutation(100_000)[:N].astype(np.int64)
    index = create_index(case.spec, case.dim, case.metric)
    if not index.is_trained:
        index.train(codes)
    index.add(keys, codes)
    queries = np.concatenate([codes[: NQ // 2], make_codes(case, NQ - NQ // 2, 2)])
    return index, keys, codes, queries


def assert_same_results(a, b, queries) -> None:
    for x, y in zip(a.search(queries, K), b.search(queries, K)):
        np.testing.assert_array_equal(x, y)


def test_spec_metric_and_dim_say_what_runs(case):
    index = create_index(case.spec, case.dim, case.metric)
    given = parse_spec(check_spec(case.spec, case.metric))
    built = parse_spec(index.spec)
    assert built.structure == given.structure and built.shards == given.shards
    assert set(given.params) <= set(built.params)  # the spec's parameters are in force, defaults shown too
    assert create_index(index.spec, case.dim, case.metric).spec == index.spec
    assert index.metric == case.metric and index.dim == case.dim and len(index) == 0
    assert isinstance(index.describe(), str) and given.structure.split(",")[-1] in index.describe()


def test_add_then_search_gives_best_first_keys_it_holds(filled, case):
    index, keys, codes, queries = filled
    assert len(index) == N and sorted(index.keys().tolist()) == sorted(keys.tolist())
    scores, got = index.search(queries, K)
    assert scores.shape == got.shape == (NQ, K) and scores.dtype == np.float32 and got.dtype == np.int64
    assert np.isin(got, np.append(keys, -1)).all()
    assert np.isneginf(scores[got < 0]).all()
    for row_scores, row_keys in zip(scores, got):
        kept = row_keys >= 0
        assert np.all(np.diff(row_scores[kept]) <= 1e-6) and len(set(row_keys[kept].tolist())) == kept.sum()
    own = got[: NQ // 2, 0] == keys[: NQ // 2]  # a stored code finds itself first
    assert own.mean() >= (1.0 if case.tol is not None else 0.75)


def test_scores_agree_with_brute_force(filled, case):
    index, keys, codes, queries = filled
    scores, got = index.search(queries, K)
    truth = true_scores(case, queries, codes)
    position = {int(key): i for i, key in enumerate(keys)}
    if case.tol is not None:  # each returned score is that key's true score
        for q, row in enumerate(got):
            for col, key in enumerate(row[row >= 0]):
                assert scores[q, col] == pytest.approx(truth[q, position[int(key)]], abs=case.tol)
    best = -np.sort(-truth, axis=1)[:, :K]
    if case.exact:
        np.testing.assert_allclose(scores, best, atol=case.tol)
    true_keys = keys[np.argsort(-truth, axis=1, kind="stable")[:, :K]]
    recall = recall_at_k(got, true_keys, K, found_scores=scores, true_scores=best, tolerance=case.tol or 1e-5)
    assert recall >= case.min_recall


def test_remove_forgets_keys_and_they_can_be_added_again(filled, case):
    index, keys, codes, queries = filled
    gone = keys[::3]
    assert index.remove(np.concatenate([gone, [-5, 10**9]])) == len(gone)
    assert len(index) == N - len(gone) and index.remove(gone) == 0
    assert not np.isin(index.keys(), gone).any()
    assert not np.isin(index.search(np.concatenate([queries, codes[:6]]), 3 * K)[1], gone).any()
    with pytest.raises(KeyError):
        index.reconstruct(int(gone[0]))
    index.add(gone, codes[::3])
    assert len(index) == N and sorted(index.keys().tolist()) == sorted(keys.tolist())
    assert np.isin(gone, index.search(codes[::3], K)[1]).mean() >= 0.75


def test_reconstruct_returns_the_stored_code(filled, case):
    index, keys, codes, _ = filled
    for i in (0, 7, N - 1):
        got = index.reconstruct(int(keys[i]))
        want = codes[i] / np.linalg.norm(codes[i]) if case.metric == "cosine" else codes[i]
        assert got.shape == want.shape and got.dtype == want.dtype
        if case.metric == "hamming":
            np.testing.assert_array_equal(got, want)
        elif case.tol is not None:
            np.testing.assert_allclose(got, want, atol=10 * case.tol)
    with pytest.raises(KeyError):
        index.reconstruct(-7)


def test_save_then_load_gives_the_same_index(filled, case, tmp_path):
    index, keys, _, queries = filled
    index.save(tmp_path / "index.faiss")
    for spec in (index.spec, check_spec(case.spec, case.metric)):  # as saved, and as first written
        again = load_index(tmp_path / "index.faiss", spec, case.metric)
        assert again.spec == index.spec and again.describe() == index.describe() and len(again) == N
        assert sorted(again.keys().tolist()) == sorted(keys.tolist())
        assert_same_results(index, again, queries)
    code_bytes = case.dim // 8 if case.metric == "hamming" else case.dim / 2  # PQ codes are smaller
    assert index.bytes_per_item() >= (code_bytes if case.tol is not None else 1)


def test_bytes_round_trip_and_the_file_reads_as_bytes(filled, case, tmp_path):
    index, _, _, queries = filled
    data = index.to_bytes()
    assert data.dtype == np.uint8 and data.ndim == 1
    index.save(tmp_path / "index.faiss")
    for blob in (data, np.fromfile(tmp_path / "index.faiss", dtype=np.uint8)):
        again = index_from_bytes(blob, index.spec, "bytes")
        assert again.spec == index.spec and len(again) == N
        assert_same_results(index, again, queries)


def test_an_empty_index_answers_nothing_and_k_is_capped(case, tmp_path):
    index = create_index(case.spec, case.dim, case.metric)
    codes = make_codes(case, 7, 3)
    if not index.is_trained:
        index.train(make_codes(case, 300, 4))
    scores, got = index.search(codes, K)
    assert got.shape[0] == 7 and 1 <= got.shape[1] <= K and (got == -1).all() and np.isneginf(scores).all()
    assert len(index.keys()) == 0
    index.save(tmp_path / "empty")
    assert len(load_index(tmp_path / "empty", index.spec, case.metric)) == 0
    index.add(np.arange(7), codes)  # keys 0..6: every shard holds some
    assert index.search(codes, K)[1].shape == (7, 7)


def test_sharded_parameters_reach_every_shard_and_survive_saving(tmp_path):
    index = create_index("Shards3,BHash2x16,nflip=1", 64, "hamming")
    assert isinstance(index, ShardedIndex) and [s.nflip for s in index.shards] == [1, 1, 1]
    index.set_params({"nflip": 3})
    assert [s.nflip for s in index.shards] == [3, 3, 3] and index.spec == "Shards3,BHash2x16,nflip=3"
    index.save(tmp_path / "i")
    kept = load_index(tmp_path / "i", "Shards3,BHash2x16", "hamming")  # no nflip: the saved one
    assert [s.nflip for s in kept.shards] == [3, 3, 3]
    given = load_index(tmp_path / "i", "Shards3,BHash2x16,nflip=0", "hamming")
    assert [s.nflip for s in given.shards] == [0, 0, 0]
    ivf = create_index("Shards2,IVF4,Flat,nprobe=3", 8, "l2")
    assert [s.nprobe for s in ivf.shards] == [3, 3]

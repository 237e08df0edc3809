from __future__ import annotations

import faiss
import numpy as np
import pytest

from indexers import (
    BinaryIndex,
    IndexFileError,
    TwoStageIndex,
    hamming_distances,
    join_codes,
    pack_bits,
    unpack_bits,
)  # fmt: skip

NBITS = 64


def flip(bits: np.ndarray, rng: np.random.Generator, upto: int, width: int) -> np.ndarray:
    """Copies of ``bits`` with 0..``upto`` of their first ``width`` bits flipped."""
    bits = bits.copy()
    for row in bits:
        row[rng.choice(width, size=rng.integers(0, upto + 1), replace=False)] ^= 1
    return bits


@pytest.fixture(params=["hash tables", "linear scan"])
def hash_path(request, monkeypatch):
    """Run a hash test both ways: faiss's hash tables, and the linear scan used when nflip is large."""
    scan = request.param == "linear scan"
    monkeypatch.setattr(BinaryIndex, "_scans", lambda self: scan and self.is_hash and len(self) > 0)
    return request.param


@pytest.fixture
def data():
    """300 codes of 64 bits whose first 16 bits cluster round 4 centres (so hash buckets are shared), 6 queries."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(306, NBITS), dtype=np.uint8)
    centres = rng.integers(0, 2, size=(4, 16), dtype=np.uint8)
    bits[:, :16] = flip(centres[rng.integers(0, 4, size=306)], rng, 3, 16)
    codes = pack_bits(bits)
    return codes[:300], codes[300:]


def brute(db: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamming distances by unpacking: independent of the index and of ``hamming_distances``."""
    return (unpack_bits(q)[:, None, :] != unpack_bits(db)[None, :, :]).sum(axis=2)


def check_top_k(distances, keys, dist_by_key: dict, expected_sorted: np.ndarray) -> None:
    """Tie-robust: distances equal the expected ones, and each key really is at the distance reported."""
    np.testing.assert_array_equal(distances, expected_sorted)
    for d, key in zip(distances, keys):
        assert dist_by_key[int(key)] == d
    assert len(set(keys.tolist())) == len(keys)


def test_pack_unpack_round_trip_and_faiss_bit_order():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, size=(5, 24))
    codes = pack_bits(bits)
    assert codes.dtype == np.uint8 and codes.shape == (5, 3)
    np.testing.assert_array_equal(unpack_bits(codes, 24), bits)
    np.testing.assert_array_equal(pack_bits(bits.astype(bool)), codes)
    np.testing.assert_array_equal(pack_bits(bits.astype(np.float32)), codes)
    one = np.zeros((3, 16), dtype=bool)
    one[1, 0] = one[2, 9] = True
    packed = pack_bits(one)
    np.testing.assert_array_equal(packed, [[0, 0], [1, 0], [0, 2]])  # bit i -> byte i // 8, bit i % 8, LSB first
    index = faiss.IndexBinaryFlat(16)
    index.add(packed[:1])
    distances, _ = index.search(packed[1:], 1)
    np.testing.assert_array_equal(distances[:, 0], [1, 1])
    hashed = faiss.IndexBinaryHash(16, 8)  # faiss hashes bits 0..7: bit 0 changes the bucket, bit 9 does not
    hashed.add(packed[:1])
    np.testing.assert_array_equal(hashed.search(packed[1:], 1)[1][:, 0], [-1, 0])


def test_pack_bits_rejects_bad_input():
    with pytest.raises(ValueError, match="multiple of 8"):
        pack_bits(np.zeros((2, 12), dtype=bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        pack_bits(np.full((2, 8), 0.7))
    with pytest.raises(ValueError, match="'nbits' parameter of unpack_bits"):
        unpack_bits(np.zeros((2, 2), dtype=np.uint8), 24)


def test_hamming_distances_helper(data):
    db, q = data
    np.testing.assert_array_equal(hamming_distances(q, db), brute(db, q))


def test_flat_search_matches_brute_force(data):
    db, q = data
    keys = np.arange(1000, 1300)
    index = BinaryIndex(NBITS)
    index.add(keys, db)
    distances, got = index.search_hamming(q, 10)
    scores, got2 = index.search(q, 10)
    np.testing.assert_array_equal(got, got2)
    d = brute(db, q)
    for i in range(len(q)):
        check_top_k(distances[i], got[i], dict(zip(keys.tolist(), d[i])), np.sort(d[i])[:10])
    np.testing.assert_allclose(scores, 1 - distances / NBITS, rtol=1e-6)
    assert (scores >= 0).all() and (scores <= 1).all() and np.all(np.diff(scores, axis=1) <= 0)
    assert index.index_type() == "IDMap2,BFlat (Hamming, 64 bits)"


@pytest.mark.parametrize("spec", ["BHash16", "BHash2x16", "BMultiHash2x16"])
def test_hash_search_finds_the_nearest_candidates(data, spec, hash_path):
    db, q = data
    index = BinaryIndex(NBITS, spec, nflip=2)
    index.add(np.arange(300), db)
    distances, got = index.search_hamming(q, 20)
    d = brute(db, q)
    tables = 2 if "x" in spec else 1
    slices = [slice(16 * t, 16 * (t + 1)) for t in range(tables)]
    bq, bdb = unpack_bits(q), unpack_bits(db)
    for i in range(len(q)):
        near = np.zeros(len(db), dtype=bool)
        for s in slices:  # a candidate is within nflip of the query in some table
            near |= (bq[i, s] != bdb[:, s]).sum(axis=1) <= 2
        expected = np.sort(d[i][near])[:20]
        found = got[i] >= 0
        assert found.sum() == len(expected) and np.isin(got[i][found], np.flatnonzero(near)).all()
        check_top_k(distances[i][found], got[i][found], dict(enumerate(d[i])), expected)
    if spec == "BHash16":  # the same answers as faiss's own IndexBinaryHash
        reference = faiss.IndexBinaryHash(NBITS, 16)
        reference.nflip = 2
        reference.add(db)
        np.testing.assert_array_equal(reference.search(q, 20)[0], distances)
    assert index.spec == ("BHash16" if spec == "BHash16" else "BHash2x16")


def test_whole_code_hash_equals_brute_force_within_radius(hash_path):
    rng = np.random.default_rng(2)
    centre = rng.integers(0, 2, size=(1, 16), dtype=np.uint8)
    db = pack_bits(flip(np.repeat(centre, 200, axis=0), rng, 4, 16))
    q = pack_bits(flip(np.repeat(centre, 5, axis=0), rng, 1, 16))
    index = BinaryIndex(16, "BHash16", nflip=3)
    index.add(np.arange(200), db)
    d = brute(db, q)
    lims, distances, keys = index.range_search_hamming(q, 3)
    for i in range(len(q)):
        ball = np.flatnonzero(d[i] <= 3)
        assert sorted(keys[lims[i] : lims[i + 1]].tolist()) == ball.tolist()
        np.testing.assert_array_equal(distances[lims[i] : lims[i + 1]], d[i][keys[lims[i] : lims[i + 1]]])
    got_d, got = index.search_hamming(q, 300)
    for i in range(len(q)):
        inside = np.sort(d[i][d[i] <= 3])
        np.testing.assert_array_equal(got_d[i][: len(inside)], inside)
        assert (got[i][len(inside) :] == -1).all()
    scores, _ = index.search(q, 300)
    assert np.isneginf(scores[got < 0]).all() and ((scores[got >= 0] >= 0) & (scores[got >= 0] <= 1)).all()


@pytest.mark.parametrize("spec", ["BFlat", "BHash16"])
def test_remove_and_reconstruct(data, spec, hash_path):
    db, q = data
    index = BinaryIndex(NBITS, spec)
    index.add(np.arange(300), db)
    gone = np.arange(0, 300, 3)
    assert index.remove(np.concatenate([gone, [999]])) == len(gone)
    assert len(index) == 200 and index.remove(gone) == 0
    _, got = index.search_hamming(np.concatenate([q, db[:5]]), 50)
    assert not np.isin(got, gone).any()
    np.testing.assert_array_equal(index.reconstruct(4), db[4])
    np.testing.assert_array_equal(index.reconstruct_batch([299, 1]), db[[299, 1]])
    with pytest.raises(KeyError):
        index.reconstruct(3)
    kept = np.setdiff1d(np.arange(300), gone)
    fresh = BinaryIndex(NBITS, spec)
    fresh.add(kept, db[kept])
    np.testing.assert_array_equal(index.search_hamming(q, 10)[0], fresh.search_hamming(q, 10)[0])
    if spec == "BHash16":
        assert index.nflip == 2  # the rebuild keeps the radius


def test_k_larger_than_index_and_empty_index(data):
    db, q = data
    for spec in ("BFlat", "BHash16"):
        index = BinaryIndex(NBITS, spec)
        _, got = index.search(q, 3)
        assert (got == -1).all()
        index.add(np.arange(3), db[:3])
        assert index.search(q, 10)[1].shape == (6, 3)


@pytest.mark.parametrize("spec", ["BFlat", "BHash16", "BHash2x16"])
def test_save_load_keeps_keys_results_and_radius(data, tmp_path, spec):
    db, q = data
    index = BinaryIndex(NBITS, spec, **({} if spec == "BFlat" else {"nflip": 3}))
    index.add(np.arange(7, 307), db)
    index.save(tmp_path / "i.faissb")
    again = BinaryIndex.load(tmp_path / "i.faissb")
    assert again.spec == index.spec and again.nflip == index.nflip and again.index_type() == index.index_type()
    for a, b in zip(index.search(q, 10), again.search(q, 10)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.reconstruct(8), db[1])
    with pytest.raises(IndexFileError, match="not BHash8"):
        BinaryIndex.load(tmp_path / "i.faissb", spec="BHash8")


def test_corrupt_or_float_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.faissb").write_bytes(b"junk")
    with pytest.raises(IndexFileError, match="bad.faissb"):
        BinaryIndex.load(tmp_path / "bad.faissb")
    faiss.write_index(faiss.IndexFlatL2(4), str(tmp_path / "float.faiss"))
    with pytest.raises(IndexFileError, match="float.faiss"):
        BinaryIndex.load(tmp_path / "float.faiss")


def test_bad_parameters_are_clear_errors():
    with pytest.raises(
        ValueError, match="'nbits' parameter of BinaryIndex must be a positive multiple of 8 .* Got 12 instead"
    ):
        BinaryIndex(12)
    with pytest.raises(ValueError, match="'spec' parameter of BinaryIndex must be .* Got 'Flat'"):
        BinaryIndex(64, "Flat")
    with pytest.raises(ValueError, match="at most 16 bits"):
        BinaryIndex(16, "BHash24")
    with pytest.raises(ValueError, match="hash specs only"):
        BinaryIndex(64, "BFlat", nflip=2)
    with pytest.raises(ValueError, match="'nflip' parameter"):
        BinaryIndex(64, "BHash16").nflip = 17
    with pytest.raises(ValueError, match="packed uint8"):
        BinaryIndex(64).add(np.arange(2), np.zeros((2, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        BinaryIndex(64).add(np.arange(2), np.zeros((2, 4), dtype=np.uint8))


def test_bytes_per_item_flat(data):
    db, _ = data
    index = BinaryIndex(NBITS)
    index.add(np.arange(300), db)
    assert 8 + 8 <= index.bytes_per_item() < 8 + 8 + 4


@pytest.fixture
def two_stage_data():
    """200 items: 32-bit short codes near 3 centres, 128-bit long codes; 8 queries."""
    rng = np.random.default_rng(3)
    centres = rng.integers(0, 2, size=(3, 32), dtype=np.uint8)
    short = pack_bits(flip(centres[rng.integers(0, 3, size=208)], rng, 3, 32))
    long = pack_bits(rng.integers(0, 2, size=(208, 128), dtype=np.uint8))
    return (short[:200], long[:200]), (short[200:], long[200:])


def test_two_stage_with_full_radius_is_exhaustive_long_search(two_stage_data):
    (short, long), (sq, lq) = two_stage_data
    index = TwoStageIndex(32, 128, radius=32)
    index.add(np.arange(500, 700), join_codes(short, long))
    scores, got, stats = index.search_with_stats(join_codes(sq, lq), 10)
    assert (stats.shortlist_sizes == 200).all() and not stats.fell_back.any()
    d = brute(long, lq)
    for i in range(len(lq)):
        check_top_k(
            np.round((1 - scores[i]) * 128).astype(int), got[i], dict(zip(range(500, 700), d[i])), np.sort(d[i])[:10]
        )
    exhaustive = BinaryIndex(128)
    exhaustive.add(np.arange(500, 700), long)
    np.testing.assert_allclose(scores, exhaustive.search(lq, 10)[0])


def test_two_stage_reranks_the_hash_ball_and_falls_back(two_stage_data, hash_path):
    (short, long), (sq, lq) = two_stage_data
    index = TwoStageIndex(32, 128, radius=2)
    index.add(np.arange(200), join_codes(short, long))
    k = 20
    scores, got, stats = index.search_with_stats(join_codes(sq, lq), k)
    ds, dl = brute(short, sq), brute(long, lq)
    np.testing.assert_array_equal(stats.shortlist_sizes, (ds <= 2).sum(axis=1))
    np.testing.assert_array_equal(index.shortlist_sizes(join_codes(sq, lq)), stats.shortlist_sizes)
    assert stats.fell_back.any() and not stats.fell_back.all()  # the data gives both kinds of query
    assert (got >= 0).all() and ((scores >= 0) & (scores <= 1)).all()
    for i in range(len(sq)):
        pool = np.arange(200) if stats.fell_back[i] else np.flatnonzero(ds[i] <= 2)
        assert np.isin(got[i], pool).all()
        check_top_k(
            np.round((1 - scores[i]) * 128).astype(int), got[i], dict(enumerate(dl[i])), np.sort(dl[i][pool])[:k]
        )
    index.radius = 0
    _, got0, stats0 = index.search_with_stats(join_codes(sq, lq), k)
    assert stats0.fell_back.all() and (got0 >= 0).all() and got0.shape == (8, k)


def test_two_stage_save_load_remove(two_stage_data, tmp_path):
    (short, long), (sq, lq) = two_stage_data
    index = TwoStageIndex(32, 128, radius=3)
    index.add(np.arange(200), join_codes(short, long))
    assert index.remove(np.arange(0, 200, 2)) == 100 and len(index) == 100 and len(index.short) == 100
    _, got = index.search(join_codes(sq, lq), 10)
    assert (got % 2 == 1).all()
    index.save(tmp_path / "ts")
    again = TwoStageIndex.load(tmp_path / "ts")
    np.testing.assert_array_equal(again.reconstruct(1), join_codes(short[1], long[1])[0])
    assert again.radius == 3 and again.short_bits == 32 and again.long_bits == 128
    for a, b in zip(index.search(join_codes(sq, lq), 10), again.search(join_codes(sq, lq), 10)):
        np.testing.assert_array_equal(a, b)
    assert 4 + 16 + 16 <= again.bytes_per_item()
    with pytest.raises(IndexFileError, match="missing"):
        TwoStageIndex.load(tmp_path / "missing")
    (tmp_path / "junk").write_bytes(b"\x00" * 64)
    with pytest.raises(IndexFileError, match="junk"):
        TwoStageIndex.load(tmp_path / "junk")
    with pytest.raises(ValueError, match="20 bytes per row"):
        index.search(lq, 10)
    with pytest.raises(ValueError, match="'short_bits' parameter"):
        TwoStageIndex(28, 256)

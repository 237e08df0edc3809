"""What is specific to binary codes: bit order, hash lookup against brute force, two-stage search, old files.

The behaviour every index shares (add, search, remove, save ...) is tests/test_index_contract.py's.
"""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from safetensors.numpy import save_file

from indexers import (
    BinaryHashIndex,
    IndexFileError,
    TwoStageIndex,
    create_index,
    hamming_distances,
    join_codes,
    load_index,
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
    monkeypatch.setattr(BinaryHashIndex, "_scans", lambda self: scan and len(self) > 0)
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


@pytest.mark.parametrize("spec", ["BHash16", "BHash2x16", "BMultiHash2x16"])
def test_hash_search_finds_the_nearest_candidates(data, spec, hash_path):
    db, q = data
    index = create_index(f"{spec},nflip=2", NBITS, "hamming")
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
    assert index.spec == ("BHash16,nflip=2" if spec == "BHash16" else "BHash2x16,nflip=2")
    assert index.describe() == index.structure + " (Hamming, 64 bits, nflip 2)"


def test_whole_code_hash_equals_brute_force_within_radius(hash_path):
    rng = np.random.default_rng(2)
    centre = rng.integers(0, 2, size=(1, 16), dtype=np.uint8)
    db = pack_bits(flip(np.repeat(centre, 200, axis=0), rng, 4, 16))
    q = pack_bits(flip(np.repeat(centre, 5, axis=0), rng, 1, 16))
    index = create_index("BHash16,nflip=3", 16, "hamming")
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


def test_hash_remove_rebuilds_the_tables_and_keeps_the_radius(data, hash_path):
    db, q = data
    index = create_index("BHash16,nflip=1", NBITS, "hamming")
    index.add(np.arange(300), db)
    gone = np.arange(0, 300, 3)
    assert index.remove(gone) == len(gone) and index.nflip == 1
    kept = np.setdiff1d(np.arange(300), gone)
    fresh = create_index("BHash16,nflip=1", NBITS, "hamming")
    fresh.add(kept, db[kept])
    np.testing.assert_array_equal(index.search_hamming(q, 10)[0], fresh.search_hamming(q, 10)[0])
    np.testing.assert_array_equal(index.reconstruct_batch([299, 1]), db[[299, 1]])


def test_hash_radius_is_saved_and_a_spec_can_replace_it(data, tmp_path):
    db, _ = data
    index = create_index("BHash2x16,nflip=3", NBITS, "hamming")
    index.add(np.arange(300), db)
    index.save(tmp_path / "i")
    assert load_index(tmp_path / "i", "BHash2x16", "hamming").nflip == 3
    assert load_index(tmp_path / "i", "BMultiHash2x16,nflip=0", "hamming").spec == "BHash2x16,nflip=0"
    with pytest.raises(IndexFileError, match="holds a BHash2x16 index, not BFlat"):
        load_index(tmp_path / "i", "BFlat", "hamming")
    with pytest.raises(IndexFileError, match="not BHash16"):
        load_index(tmp_path / "i", "BHash16", "hamming")


def test_files_written_before_the_factory_still_load(data, tmp_path):
    """BFlat and BHash files as faiss wrote them for the old BinaryIndex (IDMap2,BFlat; IDMap,BHash1x16 + nflip)."""
    db, q = data
    flat = faiss.index_binary_factory(NBITS, "IDMap2,BFlat")
    flat.add_with_ids(db, np.arange(300, dtype=np.int64) * 2)
    faiss.write_index_binary(flat, str(tmp_path / "flat"))
    hashed = faiss.index_binary_factory(NBITS, "IDMap,BHash1x16")
    hashed.add_with_ids(db, np.arange(300, dtype=np.int64))
    faiss.downcast_IndexBinary(hashed.index).nflip = 1
    faiss.write_index_binary(hashed, str(tmp_path / "hash"))
    old_flat = load_index(tmp_path / "flat", "IDMap2,BFlat", "hamming")
    assert old_flat.spec == "BFlat" and len(old_flat) == 300
    np.testing.assert_array_equal(old_flat.search_hamming(q, 5)[0], np.sort(brute(db, q), axis=1)[:, :5])
    np.testing.assert_array_equal(old_flat.reconstruct(8), db[4])
    old_hash = load_index(tmp_path / "hash", "BHash16", "hamming")
    assert old_hash.spec == "BHash16,nflip=1"
    np.testing.assert_array_equal(old_hash.search(q, 5)[1], hashed.search(q, 5)[1])


def test_corrupt_or_float_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.faissb").write_bytes(b"junk")
    with pytest.raises(IndexFileError, match="bad.faissb"):
        load_index(tmp_path / "bad.faissb", "BFlat", "hamming")
    faiss.write_index(faiss.IndexFlatL2(4), str(tmp_path / "float.faiss"))
    with pytest.raises(IndexFileError, match="float.faiss"):
        load_index(tmp_path / "float.faiss", "BFlat", "hamming")
    with pytest.raises(IndexFileError, match="missing"):
        load_index(tmp_path / "nothing", "BFlat", "hamming")


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="multiple of 8 bits wide. Got 12"):
        create_index("BFlat", 12, "hamming")
    with pytest.raises(ValueError, match="'spec' parameter for binary codes must be .* Got 'Flat'"):
        create_index("Flat", 64, "hamming")
    with pytest.raises(ValueError, match="at most the 16 bits"):
        create_index("BHash24", 16, "hamming")
    with pytest.raises(ValueError, match="a BHash spec to take the 'nflip' parameter"):
        create_index("BFlat,nflip=2", 64, "hamming")
    with pytest.raises(ValueError, match="'nflip' parameter of BinaryHashIndex must be an int in"):
        create_index("BHash16", 64, "hamming").nflip = 17
    with pytest.raises(ValueError, match="packed uint8"):
        create_index("BFlat", 64, "hamming").add(np.arange(2), np.zeros((2, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        create_index("BFlat", 64, "hamming").add(np.arange(2), np.zeros((2, 4), dtype=np.uint8))


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
    index = create_index("TwoStage32,radius=32", 32 + 128, "hamming")
    assert isinstance(index, TwoStageIndex) and index.long_bits == 128
    index.add(np.arange(500, 700), join_codes(short, long))
    scores, got, stats = index.search_with_stats(join_codes(sq, lq), 10)
    assert (stats.shortlist_sizes == 200).all() and not stats.fell_back.any()
    d = brute(long, lq)
    for i in range(len(lq)):
        check_top_k(
            np.round((1 - scores[i]) * 128).astype(int), got[i], dict(zip(range(500, 700), d[i])), np.sort(d[i])[:10]
        )
    exhaustive = create_index("BFlat", 128, "hamming")
    exhaustive.add(np.arange(500, 700), long)
    np.testing.assert_allclose(scores, exhaustive.search(lq, 10)[0])


def test_two_stage_reranks_the_hash_ball_and_falls_back(two_stage_data, hash_path):
    (short, long), (sq, lq) = two_stage_data
    index = create_index("TwoStage32,radius=2", 160, "hamming")
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


def test_two_stage_radius_and_old_files(two_stage_data, tmp_path):
    (short, long), (sq, lq) = two_stage_data
    index = create_index("TwoStage32,radius=3", 160, "hamming")
    index.add(np.arange(200), join_codes(short, long))
    assert index.remove(np.arange(0, 200, 2)) == 100 and len(index.short) == 100
    index.save(tmp_path / "ts")
    assert load_index(tmp_path / "ts", "two-stage", "hamming").spec == "TwoStage32,radius=3"  # the old manifest spec
    assert load_index(tmp_path / "ts", "TwoStage32,radius=1", "hamming").radius == 1
    with pytest.raises(IndexFileError, match="holds a TwoStage32 index, not TwoStage16"):
        load_index(tmp_path / "ts", "TwoStage16", "hamming")
    old_short = faiss.index_binary_factory(32, "IDMap,BHash1x32")  # as the first two-stage collections wrote it
    old_short.add_with_ids(short, np.arange(200, dtype=np.int64))
    faiss.downcast_IndexBinary(old_short.index).nflip = 2
    old_long = faiss.index_binary_factory(128, "IDMap2,BFlat")
    old_long.add_with_ids(long, np.arange(200, dtype=np.int64))
    arrays = {"short": faiss.serialize_index_binary(old_short), "long": faiss.serialize_index_binary(old_long)}
    save_file(arrays, str(tmp_path / "old"), metadata={"format": "ae-retrieval-two-stage"})
    old = load_index(tmp_path / "old", "two-stage", "hamming")
    assert old.spec == "TwoStage32,radius=2" and len(old) == 200
    np.testing.assert_array_equal(old.reconstruct(5), join_codes(short[5], long[5])[0])
    (tmp_path / "junk").write_bytes(b"\x00" * 64)
    with pytest.raises(IndexFileError, match="junk"):
        load_index(tmp_path / "junk", "two-stage", "hamming")
    with pytest.raises(ValueError, match="20 bytes per row"):
        index.search(lq, 10)
    with pytest.raises(ValueError, match="'radius' parameter of TwoStageIndex must be an int in"):
        index.radius = 40
    with pytest.raises(ValueError, match="TwoStage<short_bits>' with short_bits a multiple of 8"):
        create_index("TwoStage28", 256, "hamming")
    with pytest.raises(ValueError, match="names a saved two-stage index"):
        create_index("two-stage", 64, "hamming")

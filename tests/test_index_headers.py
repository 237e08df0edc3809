"""Index files whose size fields are damaged or hostile are refused before faiss or numpy allocates from them.

Every kind of index this package writes is saved, then truncated, has each of its size fields (found by value:
the vector count, the dimension, the code bytes, the list count) rewritten to huge, negative or garbage values,
has its container header damaged, or has random bytes of its header region flipped. Each must give an
``IndexFileError`` naming the file, within a second; a flip that leaves the file readable must leave it whole.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from indexers import IndexFileError, create_index, index_from_bytes, load_index, shard_spec
from indexers.files import MAX_ARRAYS

N, DIM, BITS = 77, 16, 32  # 77 codes: a value no float or key of these files spells by chance
KEYS = 10**6 + 3 * np.arange(N)
HUGE = [1 << 35, (1 << 40) - 1, 2**63 - 1, 2**64 - 1]  # 34 GB, faiss's own cap, int64 max, -1
SPECS = {
    "IDMap2,Flat": "cosine",
    "IDMap2,SQ8": "l2",
    "IDMap2,SQfp16": "cosine",
    "IDMap2,PQ4x4": "l2",
    "IVF4,Flat": "cosine",
    "IVF4,SQ8": "l2",
    "IVF4,PQ4x4": "l2",
    "BFlat": "hamming",
    "BHash16": "hamming",
    "BHash2x8": "hamming",
    "TwoStage16": "hamming",
    "Shards2,IDMap2,Flat": "cosine",
    "Shards2,BHash16": "hamming",
}


def _saved(spec: str, metric: str, path: Path) -> Path:
    rng = np.random.default_rng(0)
    index = create_index(spec, BITS if metric == "hamming" else DIM, metric)
    if metric == "hamming":
        codes = rng.integers(0, 256, (N, BITS // 8), dtype=np.uint8)
    else:
        codes = rng.standard_normal((N, DIM)).astype(np.float32)
    index.add(KEYS, codes)
    index.save(path)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Each spec's index, saved once (read it, never change it)."""
    root = tmp_path_factory.mktemp("indexes")
    return {spec: _saved(spec, metric, root / f"{n}.faiss") for n, (spec, metric) in enumerate(SPECS.items())}


def _refused(path: Path, spec: str, data: bytes, match: str | None = None) -> IndexFileError:
    """Write ``data`` to ``path``, load it as ``spec``: it must fail quickly with an error naming ``path``."""
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(IndexFileError, match=match) as caught:
        load_index(path, spec, SPECS[spec])
    assert time.perf_counter() - start < 2, "the check must not read (or allocate) what the file claims"
    assert str(path) in str(caught.value)
    return caught.value


def _size_fields(data: bytes, values: set[int]) -> list[tuple[int, int]]:
    """``(offset, width)`` of every 8-byte field holding one of ``values``, and of every dimension field (4 bytes
    after an index type tag)."""
    found = [(i, 8) for i in range(len(data) - 7) if int.from_bytes(data[i : i + 8], "little") in values]
    tagged = [i for i in range(4, len(data) - 3) if data[i - 4 : i].isalpha()]
    return found + [(i, 4) for i in tagged if int.from_bytes(data[i : i + 4], "little") in (DIM, BITS)]


@pytest.mark.parametrize("spec", SPECS)
def test_a_truncated_index_file_is_refused(saved, tmp_path, spec):
    data = saved[spec].read_bytes()
    load_index(saved[spec], spec, SPECS[spec])  # whole, it loads
    for size in sorted({0, 3, 7, 12, 30, 40, 60, len(data) // 3, len(data) // 2, len(data) - 9, len(data) - 1}):
        _refused(tmp_path / "cut.faiss", spec, data[:size])


@pytest.mark.parametrize("spec", SPECS)
def test_every_size_field_rewritten_to_a_huge_value_is_refused(saved, tmp_path, spec):
    data = saved[spec].read_bytes()
    per_shard = (N // 2, N - N // 2) if spec.startswith("Shards") else (N,)
    counts = {n * per_code for n in per_shard for per_code in (1, 2, 4, DIM, 2 * DIM, 4 * DIM)} | {4}  # 4 lists
    fields = _size_fields(data, counts)
    assert len(fields) >= 3, "the file's count fields are found by value"
    for offset, width in fields:
        for value in HUGE if width == 8 else [1 << 30, 2**31 - 1, 2**32 - 1]:
            damaged = data[:offset] + (value % (1 << 8 * width)).to_bytes(width, "little") + data[offset + width :]
            _refused(tmp_path / "huge.faiss", spec, damaged)


@pytest.mark.parametrize("spec", ["IDMap2,Flat", "IVF4,Flat", "BFlat", "BHash16"])
def test_negative_and_garbage_header_fields_are_refused(saved, tmp_path, spec):
    data = saved[spec].read_bytes()
    binary = SPECS[spec] == "hamming"
    ntotal_at = 12 if binary else 8
    cases = [
        (4, struct.pack("<i", -1)),  # dimension
        (4, struct.pack("<i", 0)),
        (ntotal_at, struct.pack("<q", -5)),  # vector count
        (ntotal_at, struct.pack("<q", N + 1)),
        (ntotal_at, struct.pack("<q", N * 1000)),
        (0, b"\xff\xfe\xfd\xfc"),  # index type
    ]
    if binary:
        cases += [(8, struct.pack("<i", 999)), (20, b"\x07"), (21, struct.pack("<i", 9))]  # code size, flag, metric
    else:
        cases += [(32, b"\x05"), (33, struct.pack("<i", 7)), (33, struct.pack("<i", -1))]  # is_trained, metric
    for offset, value in cases:
        _refused(tmp_path / "bad.faiss", spec, data[:offset] + value + data[offset + len(value) :])


@pytest.mark.parametrize("spec", SPECS)
def test_random_flips_in_the_header_region_never_get_past_as_anything_but_a_clear_error(saved, tmp_path, spec):
    data = saved[spec].read_bytes()
    region = min(len(data), 200)
    rng = np.random.default_rng(len(spec))
    path = tmp_path / "flipped.faiss"
    refused = 0
    for _ in range(60):
        damaged = bytearray(data)
        for at in rng.integers(0, region, size=rng.integers(1, 4)):
            damaged[at] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(damaged))
        start = time.perf_counter()
        try:
            index = load_index(path, spec, SPECS[spec])
        except IndexFileError as exc:
            assert str(path) in str(exc)
            refused += 1
        else:  # a flip in a field that does not size anything (a padding word, a float, a key)
            assert len(index) == N
        assert time.perf_counter() - start < 2
    assert refused >= 10


def test_a_shard_s_bytes_with_a_huge_size_field_are_refused_naming_the_shard(saved):
    index = load_index(saved["Shards2,BHash16"], "Shards2,BHash16", "hamming")
    shard = bytearray(index.shard_bytes()[0].tobytes())
    shard[12:20] = struct.pack("<q", 1 << 35)  # the vector count of the outer IDMap
    with pytest.raises(IndexFileError, match="shard 0 from a peer"):
        index_from_bytes(
            np.frombuffer(bytes(shard), dtype=np.uint8), shard_spec("Shards2,BHash16"), "shard 0 from a peer"
        )


def _container(data: bytes) -> tuple[int, dict]:
    (length,) = struct.unpack("<Q", data[:8])
    return length, json.loads(data[8 : 8 + length])


def _with_header(data: bytes, header: dict) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + _container(data)[0] :]


@pytest.mark.parametrize("spec", ["TwoStage16", "Shards2,IDMap2,Flat"])
def test_a_damaged_container_header_is_refused(saved, tmp_path, spec):
    data = saved[spec].read_bytes()
    length, header = _container(data)
    first = next(k for k in header if k != "__metadata__")
    meta = header["__metadata__"]
    bad_headers = [
        {**header, first: {**header[first], "data_offsets": [0, 1 << 40]}},  # past the end of the file
        {**header, first: {**header[first], "shape": [1 << 40]}},
        {**header, first: {**header[first], "dtype": "F64"}},
        {**header, first: {**header[first], "data_offsets": [-1, 5]}},
        {**header, first: "garbage"},
        {**header, "__metadata__": {**meta, "format": "something-else"}},
        {k: v for k, v in header.items() if k != "__metadata__"},
        {**header, **{f"x{i}": header[first] for i in range(MAX_ARRAYS + 1)}},
    ]
    if spec.startswith("Shards"):
        bad_headers.append({**header, "__metadata__": {**meta, "shards": "1000000"}})
    for bad in bad_headers:
        _refused(tmp_path / "container.faiss", spec, _with_header(data, bad))
    for length_field in [1 << 35, len(data), 2**64 - 1, 0]:
        _refused(tmp_path / "container.faiss", spec, struct.pack("<Q", length_field) + data[8:])
    _refused(tmp_path / "container.faiss", spec, data[:8] + b"[" * length + data[8 + length :])


def test_the_issue_s_34_gb_size_field_is_refused_without_allocating(saved, tmp_path):
    data = bytearray(saved["IDMap2,Flat"].read_bytes())
    codes_length = 37 + 4 + 33  # outer header, inner type tag, inner header: the codes' length (in floats)
    assert struct.unpack("<Q", data[codes_length : codes_length + 8])[0] == N * DIM
    data[codes_length : codes_length + 8] = struct.pack("<Q", (34 << 30) // 4)
    error = _refused(tmp_path / "index.faiss", "IDMap2,Flat", bytes(data), match="the codes")
    assert "not a readable FAISS index" in str(error)


def test_an_empty_or_missing_file_is_refused(tmp_path):
    _refused(tmp_path / "empty.faiss", "IDMap2,Flat", b"", match="empty")
    with pytest.raises(IndexFileError, match="missing"):
        load_index(tmp_path / "absent.faiss", "BFlat", "hamming")

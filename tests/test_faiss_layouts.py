"""``indexers.faiss_check`` against the installed faiss: every layout this package writes is walked to its last
byte, and a layout or a faiss release the walk does not know is refused with an error that says so."""

from __future__ import annotations

import re
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexers import IndexFileError, create_index, index_from_bytes, load_index
from indexers.faiss_check import KNOWN_FAISS, check_faiss, check_faiss_version

N, DIM, BITS = 40, 16, 32
KEYS = 1000 + 7 * np.arange(N)
# each faiss structure create_index builds (the containers, Shards and TwoStage, hold these)
SPECS = {
    "IDMap2,Flat": "cosine",
    "IDMap2,SQ8": "l2",
    "IDMap2,SQ4": "l2",
    "IDMap2,SQfp16": "cosine",
    "IDMap2,PQ4x4": "l2",
    "IVF4,Flat": "cosine",
    "IVF4,SQ8": "l2",
    "IVF4,PQ4x4": "l2",
    "BFlat": "hamming",
    "BHash16": "hamming",
    "BHash2x8": "hamming",
}
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def _codes(metric: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if metric == "hamming":
        return rng.integers(0, 256, (N, BITS // 8), dtype=np.uint8)
    return rng.standard_normal((N, DIM)).astype(np.float32)


def _filled(spec: str, metric: str):
    index = create_index(spec, BITS if metric == "hamming" else DIM, metric)
    index.add(KEYS, _codes(metric))
    return index


@pytest.mark.parametrize("spec", SPECS)
def test_every_layout_this_package_writes_is_walked_to_its_last_byte(spec):
    metric = SPECS[spec]
    binary, dim = metric == "hamming", BITS if metric == "hamming" else DIM
    index = create_index(spec, dim, metric)
    if not index.is_trained:
        index.train(np.random.default_rng(1).standard_normal((200, DIM)).astype(np.float32))
    for n in (0, N):  # empty (trained or not), then holding N codes
        if n:
            index.add(KEYS, _codes(metric))
        facts = check_faiss(index.to_bytes(), "x.faiss", binary, strict=True)
        assert (facts.dim, facts.ntotal) == (dim, n)


def test_a_structure_the_walk_does_not_know_is_refused_when_strict():
    data = _filled("IDMap2,HNSW8", "l2").to_bytes()
    assert check_faiss(data, "hnsw.faiss", False).ntotal == N  # checked as far as its headers, left to faiss
    with pytest.raises(IndexFileError, match=r"hnsw\.faiss: .*'IHNf' index inside, a layout this check does not"):
        check_faiss(data, "hnsw.faiss", False, strict=True)


def test_an_unknown_outer_index_type_is_refused():
    data = np.array(_filled("IDMap2,Flat", "l2").to_bytes())
    data[:4] = np.frombuffer(b"IxZZ", dtype=np.uint8)
    with pytest.raises(IndexFileError, match=r"odd\.faiss: .*'IxZZ' index, not an IDMap2 or IVF one"):
        check_faiss(data, "odd.faiss", False)


@pytest.mark.parametrize("version", ["1.16.0", "1.14.3", "2.15.0", "1.8.0", "nightly"])
def test_a_faiss_release_the_walk_was_not_read_from_is_refused(tmp_path, monkeypatch, version):
    index = _filled("IDMap2,Flat", "cosine")
    index.save(tmp_path / "codes.faiss")
    monkeypatch.setattr(faiss, "__version__", version)
    with pytest.raises(IndexFileError, match=rf"codes\.faiss: not checked: faiss {re.escape(version)} is installed"):
        load_index(tmp_path / "codes.faiss", "IDMap2,Flat", "cosine")
    with pytest.raises(IndexFileError, match="know the layouts of faiss 1.15 only"):
        index_from_bytes(index.to_bytes(), "IDMap2,Flat", "shard 0")


def test_the_known_release_passes_and_is_the_one_installed_and_required():
    for version in ("1.15.0", "1.15.1", "1.15.2.post1"):
        check_faiss_version("x.faiss", version)
    assert tuple(int(p) for p in faiss.__version__.split(".")[:2]) == KNOWN_FAISS
    major, minor = KNOWN_FAISS
    pins = re.findall(r'"(faiss-(?:cpu|gpu)[^"]*)"', PYPROJECT.read_text())
    assert pins == [f"faiss-{kind}>={major}.{minor},<{major}.{minor + 1}" for kind in ("cpu", "gpu")]

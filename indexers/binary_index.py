"""Binary codes in a FAISS binary index, searched by Hamming distance and scored ``1 - distance / nbits``.

Codes are packed 8 bits to a byte in FAISS's bit order: bit ``i`` of a code is bit ``i % 8`` (least significant
first) of byte ``i // 8``, which is what ``np.packbits(bits, axis=1, bitorder="little")`` gives. A hash index
(``BHash<b>``) hashes bits ``0 .. b-1``, so the leading bits should be the informative ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np

from .files import atomic_write
from .float_index import IndexFileError
from .gpu import gpu_count, gpu_resources

DEFAULT_BINARY_SPEC = "BFlat"
DEFAULT_NFLIP = 2
MISSING_DISTANCE = int(np.iinfo(np.int32).max)  # what faiss reports for a place with no result
MAX_HASH_BITS = 64  # faiss hashes at most one 64-bit word per table
SCAN_CELLS = 1 << 20  # query x item distances a linear scan holds at once
PROBE_COST = 8  # one hash-bucket probe costs about as much as scanning 8 codes (measured, faiss-cpu 1.15, 1 thread)

_SPEC = re.compile(r"(?:IDMap2?,)?(?:(?P<flat>BFlat)|BHash(?P<b1>\d+)|B(?:Multi)?Hash(?P<m>\d+)x(?P<b>\d+))")


def _check_nbits(nbits: int, owner: str) -> None:
    if not isinstance(nbits, (int, np.integer)) or nbits <= 0 or nbits % 8:
        raise ValueError(
            f"The 'nbits' parameter of {owner} must be a positive multiple of 8 (faiss packs 8 bits to a byte). "
            f"Got {nbits} instead. Pad shorter codes with constant zero bits: they leave Hamming distances unchanged."
        )


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack an ``(n, nbits)`` array of bits into ``(n, nbits // 8)`` ``uint8`` codes in FAISS's bit order.

    ``bits`` is boolean or numeric with every value 0 or 1 (threshold real-valued codes first, e.g.
    ``codes > 0.5``); a 1-D array is one code. ``nbits`` must be a multiple of 8.
    """
    bits = np.asarray(bits)
    if bits.ndim == 1:
        bits = bits[None, :]
    if bits.ndim != 2:
        raise ValueError(
            f"The 'bits' parameter of pack_bits must be a 1-D or 2-D array. Got {bits.ndim} dimensions instead."
        )
    _check_nbits(bits.shape[1], "pack_bits")
    if bits.dtype != np.bool_:
        if not np.isin(bits, (0, 1)).all():
            raise ValueError(
                "The 'bits' parameter of pack_bits must hold only 0 and 1 (or booleans). "
                "Got other values instead; threshold real-valued codes first, e.g. codes > 0.5."
            )
        bits = bits.astype(np.bool_)
    return np.packbits(bits, axis=1, bitorder="little")


def unpack_bits(codes: np.ndarray, nbits: int | None = None) -> np.ndarray:
    """The inverse of :func:`pack_bits`: ``(n, nbits)`` ``uint8`` 0/1 bits (``nbits`` defaults to all of them)."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim == 1:
        codes = codes[None, :]
    if nbits is None:
        nbits = codes.shape[1] * 8
    _check_nbits(nbits, "unpack_bits")
    if nbits != codes.shape[1] * 8:
        raise ValueError(
            f"The 'nbits' parameter of unpack_bits must be 8 times the code width ({codes.shape[1] * 8}). "
            f"Got {nbits} instead."
        )
    return np.unpackbits(codes, axis=1, bitorder="little")


def hamming_distances(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """All ``(nq, n)`` Hamming distances between packed ``queries`` and packed ``codes`` (numpy, no index)."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.uint8))
    codes = np.atleast_2d(np.asarray(codes, dtype=np.uint8))
    return popcount_rows(queries[:, None, :] ^ codes[None, :, :])


def popcount_rows(xor: np.ndarray) -> np.ndarray:
    """Set bits along the last axis of a ``uint8`` array (e.g. XORed codes), as ``int32``."""
    xor = np.ascontiguousarray(xor, dtype=np.uint8)
    width = next(w for w in (8, 4, 2, 1) if xor.shape[-1] % w == 0)  # count up to 64 bits at a time
    return np.bitwise_count(xor.view(f"<u{width}")).sum(axis=-1, dtype=np.int32)


def parse_binary_spec(spec: str, nbits: int) -> tuple[str, int, int]:
    """``(canonical spec, hash tables, hash bits)`` for a spec; ``("BFlat", 0, 0)`` for exhaustive search.

    ``BFlat`` is exact search; ``BHash<b>`` one hash table on bits ``0 .. b-1``; ``BHash<m>x<b>`` (alias
    ``BMultiHash<m>x<b>``) ``m`` tables on consecutive ``b``-bit slices. An ``IDMap2,``/``IDMap,`` prefix is
    accepted and ignored: keys are always kept.
    """
    match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            "The 'spec' parameter of BinaryIndex must be 'BFlat', 'BHash<b>' or 'BHash<m>x<b>' "
            f"(alias 'BMultiHash<m>x<b>'). Got {spec!r} instead."
        )
    if match["flat"]:
        return "BFlat", 0, 0
    nhash, b = (1, int(match["b1"])) if match["b1"] else (int(match["m"]), int(match["b"]))
    if not 1 <= b <= MAX_HASH_BITS or nhash < 1 or nhash * b > nbits:
        raise ValueError(
            f"The 'spec' parameter of BinaryIndex must hash 1 to {MAX_HASH_BITS} bits per table, "
            f"at most {nbits} bits in all. Got {spec!r} instead."
        )
    return (f"BHash{b}" if nhash == 1 else f"BHash{nhash}x{b}"), nhash, b


class BinaryIndex:
    """Hamming search over packed binary codes with stable ``int64`` keys.

    ``spec`` picks the index: ``BFlat`` (exact, ``IndexBinaryIDMap2`` over ``IndexBinaryFlat``), ``BHash<b>``
    or ``BHash<m>x<b>`` (approximate: only items whose hashed bits are within ``nflip`` bit flips of the
    query's, in at least one table, are candidates; candidates are ranked by their full Hamming distance).
    Hash specs are built as ``IndexBinaryIDMap`` over ``IndexBinaryMultiHash`` (``BHash<b>`` with one table,
    which finds what ``IndexBinaryHash`` finds) because the multi-hash index keeps its codes in a flat
    storage: keys can be reconstructed, and ``remove`` rebuilds the tables from the stored codes (faiss
    cannot remove from a hash index), in time linear in the index size. ``nflip`` defaults to
    ``DEFAULT_NFLIP``; when it is so large that probing every bucket within ``nflip`` flips would cost more than
    reading every code, a linear scan finds the same candidates instead.

    :meth:`search` gives scores ``1 - hamming / nbits`` in ``[0, 1]`` (higher is closer);
    :meth:`search_hamming` gives the distances.
    """

    def __init__(self, nbits: int, spec: str = DEFAULT_BINARY_SPEC, use_gpu: bool = False, nflip: int | None = None):
        _check_nbits(nbits, "BinaryIndex")
        self.spec, nhash, _ = parse_binary_spec(spec, nbits)
        self.use_gpu = use_gpu
        self._index = faiss.index_binary_factory(nbits, self._faiss_spec())
        self._gpu_index = None
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (sorted keys, their positions), cached
        if nhash:
            self.nflip = DEFAULT_NFLIP if nflip is None else nflip
        elif nflip is not None:
            raise ValueError(f"The 'nflip' parameter of BinaryIndex applies to hash specs only. Got spec {spec!r}.")

    @property
    def nbits(self) -> int:
        return self._index.d

    @property
    def code_size(self) -> int:
        """Bytes per packed code."""
        return self._index.code_size

    @property
    def is_hash(self) -> bool:
        return self.spec != "BFlat"

    @property
    def nflip(self) -> int | None:
        """Search radius of a hash index: hashed bits a candidate may differ in, per table (``None`` for BFlat)."""
        return self._inner().nflip if self.is_hash else None

    @nflip.setter
    def nflip(self, value: int) -> None:
        if not self.is_hash:
            raise ValueError(
                f"The 'nflip' parameter of BinaryIndex applies to hash specs only. Got spec {self.spec!r}."
            )
        if not isinstance(value, (int, np.integer)) or not 0 <= value <= self._inner().b:
            raise ValueError(
                f"The 'nflip' parameter of BinaryIndex must be an int in [0, {self._inner().b}]. Got {value!r} instead."
            )
        self._inner().nflip = int(value)

    def __len__(self) -> int:
        return self._index.ntotal

    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU (exact ``BFlat`` only; faiss has no GPU hash index)."""
        return self.use_gpu and not self.is_hash and gpu_count() > 0

    is_trained = True

    def train(self, codes: np.ndarray) -> None:
        """Nothing to train: binary indexes here are flat storage or hash tables."""

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add packed ``codes`` under ``keys`` (keys must not be present already; remove first to replace)."""
        codes = self._prepared(codes)
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        if len(keys) != len(codes):
            raise ValueError(f"{len(keys)} keys for {len(codes)} codes")
        self._index.add_with_ids(codes, keys)
        self._changed()

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys``; return how many were there."""
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        if not self.is_hash:
            removed = int(self._index.remove_ids(keys))
        else:  # rebuild the hash tables from the stored codes of the keys that stay
            stored = self.keys()
            keep = ~np.isin(stored, keys)
            removed = int((~keep).sum())
            if removed:
                codes = self._codes_view()[keep].copy()
                nflip = self.nflip
                self._index = faiss.index_binary_factory(self.nbits, self._faiss_spec())
                self.nflip = nflip
                if keep.any():
                    self._index.add_with_ids(codes, np.ascontiguousarray(stored[keep]))
        self._changed()
        return removed

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per query row, scores ``1 - hamming / nbits``; missing: key -1, score -inf."""
        distances, keys = self.search_hamming(codes, k)
        scores = (1.0 - distances / np.float32(self.nbits)).astype(np.float32)
        scores[keys < 0] = -np.inf
        return scores, keys

    def search_hamming(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(hamming distances int32, keys)`` per query row, nearest first.

        ``k`` is capped at the index size, as in ``FloatIndex``. A hash index may find fewer than ``k``
        candidates: the missing places have key -1 and distance ``MISSING_DISTANCE``.
        """
        k = max(1, min(int(k), len(self))) if len(self) else 1
        codes = self._prepared(codes)
        if self.on_gpu:
            return self._gpu_search(codes, k)
        if self._scans():
            return self._scan_search(codes, k)
        distances, keys = self._index.search(codes, k)
        distances[keys < 0] = MISSING_DISTANCE
        return distances.astype(np.int32, copy=False), keys

    def range_search_hamming(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every item within Hamming distance ``radius`` (inclusive) of each query: ``(lims, distances, keys)``.

        Query ``i``'s results are ``distances[lims[i]:lims[i+1]]`` and ``keys[lims[i]:lims[i+1]]``, unordered.
        A hash index returns only its candidates (items within ``nflip`` flips of the query in some table).
        """
        codes = self._prepared(codes)
        if len(self) == 0:
            return np.zeros(len(codes) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        if self._scans():
            return self._scan_range_search(codes, radius)
        lims, distances, keys = self._index.range_search(codes, int(radius) + 1)  # faiss keeps d < radius
        return lims.astype(np.int64), distances.astype(np.int32), keys

    def reconstruct(self, key: int) -> np.ndarray:
        """The stored packed code of ``key``; ``KeyError`` if absent."""
        return self.reconstruct_batch(np.array([key]))[0]

    def reconstruct_batch(self, keys: np.ndarray) -> np.ndarray:
        """The stored packed codes of ``keys``, one row each; ``KeyError`` naming a key that is absent."""
        return self._codes_view()[self._positions(keys)]

    def keys(self) -> np.ndarray:
        """The stored keys, in storage order (a copy)."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def bytes_per_item(self) -> float:
        """Serialised index size per item, codes, keys and hash tables included."""
        return len(faiss.serialize_index_binary(self._index)) / max(1, len(self))

    def index_type(self) -> str:
        """The faiss structure, code length and where it searches, e.g. ``IDMap2,BFlat (Hamming, 64 bits)``."""
        radius = f", nflip {self.nflip}" if self.is_hash else ""
        return f"{self._faiss_spec()} (Hamming, {self.nbits} bits{radius}{', GPU' if self.on_gpu else ''})"

    def save(self, path: str | Path) -> None:
        """Write the index atomically: a reader sees the old file or the new one, never half."""
        atomic_write(path, lambda tmp: faiss.write_index_binary(self._index, tmp))

    @classmethod
    def load(
        cls, path: str | Path, spec: str | None = None, use_gpu: bool = False, nflip: int | None = None
    ) -> BinaryIndex:
        """Read an index written by :meth:`save`; its spec and ``nflip`` come from the file.

        ``spec``, if given, must name what the file holds; ``nflip``, if given, replaces the saved radius.
        """
        try:
            index = faiss.read_index_binary(str(path))
        except RuntimeError as exc:
            raise IndexFileError(f"{path}: not a readable FAISS binary index") from exc
        return cls._wrap(index, str(path), spec, use_gpu, nflip)

    def to_bytes(self) -> np.ndarray:
        """The index serialised, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return faiss.serialize_index_binary(self._index)

    @classmethod
    def from_bytes(cls, data: np.ndarray, name: str, spec: str | None = None, use_gpu: bool = False) -> BinaryIndex:
        """Rebuild an index from :meth:`to_bytes`; ``name`` says where the bytes came from, in errors."""
        try:
            index = faiss.deserialize_index_binary(np.ascontiguousarray(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexFileError(f"{name}: not a readable FAISS binary index") from exc
        return cls._wrap(index, name, spec, use_gpu, None)

    @classmethod
    def _wrap(
        cls, index: faiss.IndexBinary, name: str, spec: str | None, use_gpu: bool, nflip: int | None
    ) -> BinaryIndex:
        found = _spec_of(index)
        if found is None:
            raise IndexFileError(f"{name}: a FAISS binary index, but not one BinaryIndex writes")
        if spec is not None and parse_binary_spec(spec, index.d)[0] != found:
            raise IndexFileError(f"{name}: holds a {found} index, not {spec}")
        self = cls.__new__(cls)
        self.spec, self.use_gpu, self._index, self._gpu_index, self._sorted = found, use_gpu, index, None, None
        if nflip is not None:
            self.nflip = nflip
        return self

    # internals

    def _faiss_spec(self) -> str:
        if not self.is_hash:
            return "IDMap2,BFlat"
        return "IDMap," + (self.spec if "x" in self.spec else "BHash1x" + self.spec[len("BHash") :])

    def _inner(self) -> faiss.IndexBinary:
        return faiss.downcast_IndexBinary(self._index.index)

    def _storage(self) -> faiss.IndexBinaryFlat:
        inner = self._inner()
        return inner.storage if self.is_hash else inner

    def _codes_view(self) -> np.ndarray:
        """The stored codes as an ``(n, code_size)`` view into faiss memory: valid until the next change."""
        if len(self) == 0:
            return np.zeros((0, self.code_size), dtype=np.uint8)
        xb = self._storage().xb
        return faiss.rev_swig_ptr(xb.data(), xb.size()).reshape(-1, self.code_size)

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        if self._sorted is None:
            stored = self.keys()
            order = np.argsort(stored, kind="stable")
            self._sorted = stored[order], order
        sorted_keys, order = self._sorted
        at = np.minimum(np.searchsorted(sorted_keys, keys), max(0, len(sorted_keys) - 1))
        found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
        if not found.all():
            raise KeyError(int(keys[~found][0]))
        return order[at]

    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8:
            raise ValueError(
                "The 'codes' parameter of BinaryIndex must be packed uint8 codes (see pack_bits). "
                f"Got dtype {codes.dtype} instead."
            )
        codes = np.ascontiguousarray(codes.reshape(1, -1) if codes.ndim == 1 else codes)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            raise ValueError(
                f"codes have shape {codes.shape}, the index wants (n, {self.code_size}) bytes for {self.nbits} bits"
            )
        return codes

    def _scans(self) -> bool:
        """Whether a hash search would probe so many buckets (large ``nflip``) that a linear scan is cheaper.

        The scan finds the same candidates as the hash tables (items within ``nflip`` of the query in some
        table), so the answers are the same.
        """
        if not self.is_hash or len(self) == 0:
            return False
        inner = self._inner()
        probes = inner.nhash * sum(math.comb(inner.b, i) for i in range(inner.nflip + 1))
        return probes * PROBE_COST > len(self)

    def _scan_distances(self, codes: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
        """Per chunk of queries: distances to every stored item, ``MISSING_DISTANCE`` where the hash would not look."""
        inner = self._inner()
        stored = self._codes_view()
        stored_hashes = _table_hashes(stored, inner.nhash, inner.b)
        rows = max(1, SCAN_CELLS // len(self))
        for start in range(0, len(codes), rows):
            chunk = codes[start : start + rows]
            hashes = _table_hashes(chunk, inner.nhash, inner.b)
            near = (np.bitwise_count(hashes[:, :, None] ^ stored_hashes[:, None, :]) <= inner.nflip).any(axis=0)
            distances = hamming_distances(chunk, stored)
            distances[~near] = MISSING_DISTANCE
            yield slice(start, start + len(chunk)), distances

    def _scan_search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        distances = np.full((len(codes), k), MISSING_DISTANCE, dtype=np.int32)
        keys = np.full((len(codes), k), -1, dtype=np.int64)
        stored_keys = self.keys()
        for rows, block in self._scan_distances(codes):
            nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
            found = np.take_along_axis(block, nearest, axis=1)
            order = np.argsort(found, axis=1, kind="stable")
            nearest, found = np.take_along_axis(nearest, order, axis=1), np.take_along_axis(found, order, axis=1)
            distances[rows] = found
            keys[rows] = np.where(found < MISSING_DISTANCE, stored_keys[nearest], -1)
        return distances, keys

    def _scan_range_search(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts, distances, keys = [], [], []
        stored_keys = self.keys()
        for _, block in self._scan_distances(codes):
            inside = block <= min(int(radius), self.nbits)
            rows, cols = np.nonzero(inside)
            counts.append(inside.sum(axis=1))
            distances.append(block[rows, cols])
            keys.append(stored_keys[cols])
        lims = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        return lims, np.concatenate(distances).astype(np.int32), np.concatenate(keys)

    def _changed(self) -> None:
        self._gpu_index = None
        self._sorted = None

    def _gpu_search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # faiss clones only a bare IndexBinaryFlat to the GPU: search positions there, map them to keys here.
        if self._gpu_index is None:
            self._gpu_index = faiss.index_binary_cpu_to_gpu(gpu_resources(), 0, self._storage())
        distances, positions = self._gpu_index.search(codes, k)
        keys = np.where(positions >= 0, self.keys()[np.maximum(positions, 0)], -1)
        distances[positions < 0] = MISSING_DISTANCE
        return distances.astype(np.int32, copy=False), keys


def _table_hashes(codes: np.ndarray, nhash: int, b: int) -> np.ndarray:
    """``(nhash, n)`` ``uint64`` hash values: table ``t`` reads bits ``t*b .. t*b + b - 1``, as faiss does."""
    nbytes = -(-nhash * b // 8)
    bits = np.unpackbits(codes[:, :nbytes], axis=1, bitorder="little")[:, : nhash * b].reshape(len(codes), nhash, b)
    padded = np.zeros((len(codes), nhash, 64), dtype=np.uint8)
    padded[..., :b] = bits
    return np.packbits(padded, axis=2, bitorder="little").view("<u8")[..., 0].T


def _spec_of(index: faiss.IndexBinary) -> str | None:
    """The canonical spec of an index BinaryIndex builds, or ``None`` for anything else."""
    if isinstance(index, faiss.IndexBinaryIDMap2):
        inner = faiss.downcast_IndexBinary(index.index)
        return "BFlat" if isinstance(inner, faiss.IndexBinaryFlat) else None
    if isinstance(index, faiss.IndexBinaryIDMap):
        inner = faiss.downcast_IndexBinary(index.index)
        if isinstance(inner, faiss.IndexBinaryMultiHash):
            return f"BHash{inner.b}" if inner.nhash == 1 else f"BHash{inner.nhash}x{inner.b}"
    return None

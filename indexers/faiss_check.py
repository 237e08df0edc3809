"""Checking a serialised FAISS index's size fields before faiss reads it, so a damaged or hostile file is an
``IndexFileError`` naming it, never a crash or a huge allocation.

faiss allocates every vector it reads from the size field in front of it (up to 2**40 elements) before it reads
the data, so a flipped size byte makes it try to allocate terabytes. :func:`check_faiss` walks the layouts this
package writes (``faiss/impl/index_read.cpp``, faiss 1.15): ``IDMap2`` over ``Flat`` / ``SQ`` / ``PQ``, IVF over
``Flat`` / ``SQ`` / ``PQ`` with flat quantizers and array inverted lists, and the binary ``IDMap2,BFlat`` and
``IDMap,BHash``. Every count (vectors, dimension, code size, lists, tables, vector lengths) is checked against
the bytes that remain and against the others (``ntotal * code_size`` bytes of codes, ``ntotal`` ids) and the
walk must end at the last byte. A real-valued index of another structure (``HNSW``, ``PCA``, fast-scan ...) is
checked as far as its outer header, and an ``IDMap2`` one's trailing id list, and left to faiss after that
(``strict=True`` refuses it instead: the tests walk every layout this package writes that way).
A hash table's bit stream is decoded too (faiss reads its bucket sizes and ids without bounds).

The layouts were read from faiss 1.15 (``KNOWN_FAISS``; ``pyproject.toml`` pins ``faiss-cpu`` to it). With
another faiss loaded, a check refuses the file with an error naming both versions rather than pass a layout
it may misread; the version is read from the loaded module, so the file-only path (``indexers.facts``, which
never loads faiss) is not affected.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import IndexFileError

KNOWN_FAISS = (1, 15)  # the faiss release (major, minor) whose index_read.cpp the walk follows
MAX_DIM = 1 << 20  # floats per code / bits per binary code
MAX_EMPTY_LISTS = 1 << 20  # inverted lists an untrained IVF index may declare (a trained one stores its centroids)
_FLAT = {"IxFI", "IxF2", "IxFl"}
_PQ = {"IxPq", "IxPQ", "IxPo"}
_IVF = {"IwFl", "IwSQ", "IwSq", "IwPQ"}
_FOREIGN_IVF = {"IVLf", "IVRf", "NPLf", "NPRf"}  # IVF classes with other fourccs (faiss reads them; we do not walk)


_SQ_CODE = {  # faiss ScalarQuantizer::QuantizerType -> code bytes for d dimensions
    0: lambda d: d, 1: lambda d: (d + 1) // 2, 2: lambda d: d, 3: lambda d: (d + 1) // 2, 4: lambda d: 2 * d,
    5: lambda d: d, 6: lambda d: (6 * d + 7) // 8, 7: lambda d: 2 * d, 8: lambda d: d,
}  # fmt: skip
_SQ_TRAINED = {  # trained floats: a range per dimension, one range, or none
    **dict.fromkeys((0, 1, 6), lambda d: 2 * d), **dict.fromkeys((2, 3), lambda d: 2),
    **dict.fromkeys((4, 5, 7, 8), lambda d: 0),
}  # fmt: skip


class FaissFacts(NamedTuple):
    """What a checked index holds: its code width (floats, or bits), its vector count, and the search parameters
    saved in it (``nprobe`` of an IVF index, ``nflip`` of a hash index)."""

    dim: int
    ntotal: int
    params: dict[str, int]


class _Unknown(Exception):
    """A layout the walk does not know: the rest of the blob cannot be walked."""


def check_faiss_version(name: str, version: str | None = None) -> None:
    """``IndexFileError`` naming ``name`` unless faiss ``version`` (default: the loaded faiss module's, if any) is
    the release the walk follows (``KNOWN_FAISS``)."""
    if version is None:
        faiss = sys.modules.get("faiss")
        version = getattr(faiss, "__version__", None)
        if version is None:
            return  # faiss is not loaded: nothing will read the file with it
    release = tuple(int(part) if part.isdigit() else -1 for part in version.split(".")[:2])
    if release != KNOWN_FAISS:
        known = ".".join(map(str, KNOWN_FAISS))
        raise IndexFileError(
            f"{name}: not checked: faiss {version} is installed, and the index file checks know the layouts of "
            f"faiss {known} only (install faiss-cpu>={known},<{KNOWN_FAISS[0]}.{KNOWN_FAISS[1] + 1}, as "
            f"ae-retrieval's requirements say)"
        )


def check_faiss_file(path: str | Path, binary: bool) -> FaissFacts:
    """Check the FAISS index file at ``path`` (only its header pages are read: it is mapped, not loaded)."""
    try:
        if Path(path).stat().st_size == 0:
            raise IndexFileError(f"{path}: empty (0 bytes), not a FAISS index")
        mapped = np.memmap(path, dtype=np.uint8, mode="r")  # unmapped when the last view of it goes
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return check_faiss(mapped, str(path), binary)


def check_faiss(data: bytes | memoryview | np.ndarray, name: str, binary: bool, strict: bool = False) -> FaissFacts:
    """Check serialised index bytes (``binary``: a ``faiss.IndexBinary``); ``IndexFileError`` naming ``name``.
    Returns what the walk read on the way. ``strict``: a real-valued structure the walk does not know is refused
    too, not checked as far as its header."""
    check_faiss_version(name)
    raw = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1) if isinstance(data, np.ndarray) else data
    walk = _Walk(memoryview(raw).cast("B"), name, "FAISS binary index" if binary else "FAISS index")
    if binary:
        d, ntotal = walk.binary_index(top=True)
        walk.at_end()
        return FaissFacts(d, ntotal, walk.params)
    head = walk.peek_fourcc()
    if head != "IxM2" and head not in _IVF and head not in _FOREIGN_IVF and not head.startswith(("Iw", "Iv")):
        raise walk.fail(f"a {_printable(head)!r} index, not an IDMap2 or IVF one")
    try:
        d, ntotal = walk.float_index()
        walk.at_end()
    except _Unknown as unknown:
        if strict:
            raise walk.fail(f"a {_printable(str(unknown))!r} index inside, a layout this check does not know") from None
        if head == "IxM2":
            walk.id_map_trailer()
        walk.pos = 4  # every float index starts with its dimension and vector count
        d, ntotal = walk.i32("the dimension"), walk.i64("the vector count")
    return FaissFacts(d, ntotal, walk.params)


class _Walk:
    """A cursor over the blob that reads faiss's fields and checks each size before anything is skipped."""

    def __init__(self, buf: memoryview, name: str, what: str) -> None:
        self.buf, self.name, self.what, self.pos = buf, name, what, 0
        self.params: dict[str, int] = {}  # search parameters read on the way (nprobe, nflip)

    def fail(self, why: str) -> IndexFileError:
        where = f"at byte {self.pos:,} of {len(self.buf):,}"
        return IndexFileError(f"{self.name}: not a readable {self.what} (damaged: {why}, {where})")

    def left(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > self.left():
            raise self.fail(f"{what} needs {n:,} bytes, {self.left():,} are left: truncated or a size field is wrong")
        part = self.buf[self.pos : self.pos + n]
        self.pos += n
        return part

    def scalar(self, fmt: str, what: str) -> int | float:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def i32(self, what: str) -> int:
        return int(self.scalar("i", what))

    def u64(self, what: str) -> int:
        return int(self.scalar("Q", what))

    def i64(self, what: str) -> int:
        return int(self.scalar("q", what))

    def flag(self, what: str) -> int:
        value = int(self.scalar("B", what))
        if value > 1:
            raise self.fail(f"{what} is {value}, not 0 or 1")
        return value

    def fourcc(self) -> str:
        return bytes(self.take(4, "an index type")).decode("latin-1")

    def peek_fourcc(self) -> str:
        if self.left() < 4:
            raise self.fail("shorter than an index type tag")
        return bytes(self.buf[self.pos : self.pos + 4]).decode("latin-1")

    def vector(self, item: int, what: str, count: int | None = None) -> int:
        """A faiss vector of ``item``-byte elements (``count``: the number it must hold); returns its length."""
        n = self.u64(f"the length of {what}")
        if n > self.left() // item:
            raise self.fail(f"{what} claims {n:,} elements of {item} bytes, {self.left():,} bytes are left")
        if count is not None and n != count:
            raise self.fail(f"{what} holds {n:,} elements, not {count:,}")
        self.take(n * item, what)
        return n

    def in_range(self, value: int, low: int, high: int, what: str) -> int:
        if not low <= value <= high:
            raise self.fail(f"{what} is {value:,}, outside [{low:,}, {high:,}]")
        return value

    def at_end(self) -> None:
        if self.left():
            raise self.fail(f"{self.left():,} bytes follow the end of the index")

    # --- real-valued indexes ---------------------------------------------------------------

    def header(self) -> tuple[int, int, int]:
        """``read_index_header``: ``(d, ntotal, is_trained)``."""
        d = self.in_range(self.i32("the dimension"), 1, MAX_DIM, "the dimension")
        ntotal = self.in_range(self.i64("the vector count"), 0, len(self.buf), "the vector count")
        self.take(16, "the header")
        trained = self.flag("is_trained")
        metric = self.i32("the metric type")
        if metric not in (0, 1):  # inner product, L2: the metrics this package indexes with
            raise self.fail(f"metric type {metric}, not inner product (0) or L2 (1)")
        return d, ntotal, trained

    def float_index(self) -> tuple[int, int]:
        """One index, any nesting: ``(d, ntotal)``."""
        h = self.fourcc()
        if h in _IVF:
            return self.ivf(h)
        if h not in _FLAT | _PQ | {"IxSQ", "IxM2", "IxMp"}:
            raise _Unknown(h)
        d, ntotal, trained = self.header()
        if h in _FLAT:
            self.xb_vector(d, ntotal)
        elif h == "IxSQ":
            code_size = self.scalar_quantizer(d, ntotal, trained)
            self.vector(1, "the codes", ntotal * code_size)
        elif h in _PQ:
            code_size = self.product_quantizer(d)
            self.vector(1, "the codes", ntotal * code_size)
            if h != "IxPQ":
                self.take(9, "the PQ search settings")
        else:
            inner = self.float_index()
            if inner != (d, ntotal):
                raise self.fail(f"the wrapped index holds {inner[1]:,} vectors of {inner[0]}, not {ntotal:,} of {d}")
            self.vector(8, "the id map", ntotal)
        return d, ntotal

    def xb_vector(self, d: int, ntotal: int) -> None:
        """A flat index's codes: faiss stores their length in 4-byte units."""
        units = self.u64("the length of the codes")
        if units != ntotal * d:
            raise self.fail(f"the codes hold {units:,} floats, not {ntotal:,} x {d}")
        self.take(units * 4, "the codes")

    def ivf(self, h: str) -> tuple[int, int]:
        d, ntotal, trained = self.header()
        nlist = self.in_range(self.u64("the list count"), 1, 1 << 40, "the list count")
        self.params["nprobe"] = self.in_range(self.u64("nprobe"), 1, nlist, "nprobe")
        quantizer_d, centroids = self.float_index()
        if quantizer_d != d or centroids not in ((nlist,) if trained else (0, nlist)):
            raise self.fail(f"the quantizer holds {centroids:,} centroids of {quantizer_d}, not {nlist:,} of {d}")
        if not centroids and nlist > MAX_EMPTY_LISTS:
            raise self.fail(f"an untrained index declares {nlist:,} lists")
        kind = self.in_range(int(self.scalar("B", "the direct map type")), 0, 2, "the direct map type")
        self.vector(8, "the direct map", ntotal if kind == 1 else 0)
        if kind == 2:
            self.vector(16, "the direct map hash table", ntotal)
        places = np.frombuffer(self.buf[self.pos - 8 * kind * ntotal : self.pos], dtype="<i8")[kind - 1 :: max(kind, 1)]
        if h == "IwFl":
            code_size = 4 * d
        elif h == "IwPQ":
            self.flag("by_residual")
            code_size = self.u64("the code size")
            if code_size != self.product_quantizer(d):
                raise self.fail(f"code size {code_size}, not its product quantizer's")
        else:
            code_size = self.scalar_quantizer(d, ntotal, trained)
            if self.u64("the code size") != code_size:
                raise self.fail("the code size is not its scalar quantizer's")
            if h == "IwSq":
                self.flag("by_residual")
        sizes = self.inverted_lists(nlist, code_size, ntotal)
        lists, offsets = places >> 32, places & 0xFFFFFFFF  # faiss's lo_build(list, offset)
        inside = (lists >= 0) & (lists < nlist)
        if not inside.all() or not (offsets < sizes[lists]).all():
            raise self.fail("the direct map points outside the inverted lists")
        return d, ntotal

    def inverted_lists(self, nlist: int, code_size: int, ntotal: int) -> np.ndarray:
        """Array inverted lists; returns each list's size (``nlist`` of them)."""
        if self.fourcc() != "ilar":
            raise self.fail("the inverted lists are not stored in the index (only array lists are read)")
        if self.u64("the list count") != nlist or self.u64("the code size") != code_size:
            raise self.fail("the inverted lists' list count or code size is not the index's")
        kind = self.fourcc()
        if kind not in ("full", "sprs"):
            raise self.fail(f"inverted list sizes of kind {_printable(kind)!r}")
        start = self.pos + 8
        n = self.vector(8, "the list sizes", nlist if kind == "full" else None)
        raw = np.frombuffer(self.buf[start : start + 8 * n], dtype="<u8")
        if kind == "sprs":
            lists, raw = raw[0::2], raw[1::2]
            if n % 2 or (n and int(lists.max()) >= nlist) or np.unique(lists).size != lists.size:
                raise self.fail("the sparse list sizes are not (list, size) pairs of distinct lists the index has")
        if raw.size and int(raw.max()) > ntotal:
            raise self.fail(f"an inverted list claims {int(raw.max()):,} entries of the {ntotal:,}")
        listed = int(raw.sum(dtype=np.uint64)) if raw.size else 0  # each <= ntotal <= file size: cannot wrap
        if listed != ntotal:
            raise self.fail(f"the inverted lists hold {listed:,} entries, not {ntotal:,}")
        self.take(ntotal * (code_size + 8), "the inverted lists' codes and ids")
        sizes = raw.astype(np.int64)
        if kind == "sprs":
            sizes = np.zeros(nlist, dtype=np.int64)
            sizes[lists.astype(np.int64)] = raw
        return sizes

    def scalar_quantizer(self, d: int, ntotal: int, trained: int) -> int:
        """faiss derives the code size from the quantizer type and trusts the trained values' length: check both."""
        qtype = self.i32("the quantizer type")
        if qtype not in _SQ_CODE:
            raise self.fail(f"scalar quantizer type {qtype}, not one this package reads")
        self.take(8, "the scalar quantizer's range settings")
        if self.u64("the quantizer's dimension") != d:
            raise self.fail(f"the scalar quantizer's dimension is not the index's {d}")
        code_size = _SQ_CODE[qtype](d)
        if self.u64("the code size") != code_size:
            raise self.fail(f"the code size is not the {code_size} bytes of quantizer type {qtype}")
        values = _SQ_TRAINED[qtype](d)
        self.vector(4, "the scalar quantizer's trained values", values if ntotal or trained or not values else None)
        return code_size

    def product_quantizer(self, d: int) -> int:
        if self.u64("the quantizer's dimension") != d:
            raise self.fail(f"the product quantizer's dimension is not the index's {d}")
        m = self.in_range(self.u64("the sub-quantizer count"), 1, d, "the sub-quantizer count")
        nbits = self.in_range(self.u64("the bits per sub-code"), 1, 24, "the bits per sub-code")
        if d % m:
            raise self.fail(f"{m} sub-quantizers do not divide the dimension {d}")
        self.vector(4, "the product quantizer's centroids", d << nbits)
        return (m * nbits + 7) // 8

    def id_map_trailer(self) -> None:
        """An ``IDMap2`` over a structure the walk does not know: its id list is the blob's last bytes."""
        self.pos = 8
        ntotal = self.in_range(self.i64("the vector count"), 0, (len(self.buf) - 8) // 8, "the vector count")
        self.pos = len(self.buf) - 8 * ntotal - 8
        self.vector(8, "the id map", ntotal)

    # --- binary indexes --------------------------------------------------------------------

    def binary_header(self) -> tuple[int, int, int]:
        """``read_index_binary_header``: ``(d, code_size, ntotal)``."""
        d = self.in_range(self.i32("the bit count"), 8, MAX_DIM, "the bit count")
        code_size = self.i32("the code size")
        if d % 8 or code_size != d // 8:
            raise self.fail(f"{d}-bit codes of {code_size} bytes")
        ntotal = self.in_range(self.i64("the vector count"), 0, len(self.buf), "the vector count")
        self.flag("is_trained")
        self.in_range(self.i32("the metric type"), 0, 1, "the metric type")
        return d, code_size, ntotal

    def binary_index(self, top: bool = False) -> tuple[int, int]:
        """``(d, ntotal)`` of ``IDMap2,BFlat``, ``IDMap,BHash...`` or their parts."""
        h = self.fourcc()
        if h not in (("IBM2", "IBMp") if top else ("IBxF", "IBHm")):
            raise IndexFileError(f"{self.name}: a {_printable(h)!r} FAISS binary index, not one this package writes")
        d, code_size, ntotal = self.binary_header()
        if h == "IBxF":
            self.vector(1, "the codes", ntotal * code_size)
        elif h == "IBHm":
            if self.peek_fourcc() != "IBxF" or self.binary_index() != (d, ntotal):
                raise self.fail("the hash index's storage is not a flat index of its codes")
            b = self.in_range(self.i32("the hashed bits"), 1, 64, "the hashed bits")
            tables = self.in_range(self.i32("the table count"), 1, d // b, "the table count")
            self.params["nflip"] = self.in_range(self.i32("nflip"), 0, b, "nflip")
            for _ in range(tables):
                self.hash_table(b, ntotal)
        else:
            if self.binary_index() != (d, ntotal):
                raise self.fail("the wrapped index does not hold the same vectors")
            self.vector(8, "the id map", ntotal)
        return d, ntotal

    def hash_table(self, b: int, ntotal: int) -> None:
        """One table of a multi-hash index: a bit stream of (hash, bucket size, ids) records."""
        id_bits = self.in_range(self.i32("the id width"), 0, 64, "the id width")
        buckets = self.in_range(self.u64("the bucket count"), 0, ntotal, "the bucket count")
        nbits = (b + id_bits) * buckets + ntotal * id_bits
        start = self.pos + 8
        self.vector(1, "a hash table", (nbits + 7) // 8)
        if id_bits:
            self.hash_records(self.buf[start : start + (nbits + 7) // 8], b, id_bits, buckets, ntotal)

    def hash_records(self, stream: memoryview, b: int, id_bits: int, buckets: int, ntotal: int) -> None:
        """faiss reads the records without bounds: check each bucket's size, and each id, before it does."""
        data, mask, width = bytes(stream) + bytes(16), (1 << id_bits) - 1, b + id_bits
        sizes, starts, pos, total = [], [], 0, 0
        for _ in range(buckets):
            at = pos + b
            size = (int.from_bytes(data[at >> 3 : (at >> 3) + 9], "little") >> (at & 7)) & mask
            total += size
            if total > ntotal:
                raise self.fail(f"a hash table's buckets hold more than its {ntotal:,} codes")
            sizes.append(size)
            starts.append(pos + width)
            pos += width + size * id_bits
        if total != ntotal:
            raise self.fail(f"a hash table's buckets hold {total:,} codes, not {ntotal:,}")
        counts = np.asarray(sizes, dtype=np.int64)
        first = np.repeat(np.asarray(starts, dtype=np.int64), counts)
        rank = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        where = first + rank * id_bits
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        ids = np.zeros(total, dtype=np.uint64)
        for bit in range(id_bits):
            ids |= bits[where + bit].astype(np.uint64) << np.uint64(bit)
        if total and int(ids.max()) >= ntotal:
            raise self.fail(f"a hash table lists code {int(ids.max()):,} of {ntotal:,}")


def _printable(fourcc: str) -> str:
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in fourcc)

"""Packed binary codes: packing, unpacking, Hamming distances.

Codes are packed 8 bits to a byte in FAISS's bit order: bit ``i`` of a code is bit ``i % 8`` (least significant
first) of byte ``i // 8``, which is what ``np.packbits(bits, axis=1, bitorder="little")`` gives. A hash index
(``BHash<b>``) hashes bits ``0 .. b-1``, so the leading bits should be the informative ones.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidParameterError

MISSING_DISTANCE = int(np.iinfo(np.int32).max)  # the distance reported for a place with no result


def check_nbits(nbits: object, owner: str) -> int:
    """``nbits`` as an int if it is a positive multiple of 8 (faiss packs bytes); else a clear error."""
    if not isinstance(nbits, (int, np.integer)) or isinstance(nbits, bool) or nbits <= 0 or nbits % 8:
        raise InvalidParameterError(
            f"The 'nbits' parameter of {owner} must be a positive multiple of 8 (faiss packs 8 bits to a byte). "
            f"Got {nbits!r} instead. Pad shorter codes with constant zero bits: they leave Hamming distances unchanged."
        )
    return int(nbits)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack an ``(n, nbits)`` array of bits into ``(n, nbits // 8)`` ``uint8`` codes in FAISS's bit order.

    ``bits`` is boolean or numeric with every value 0 or 1 (threshold real-valued codes first, e.g.
    ``codes > 0.5``); a 1-D array is one code. ``nbits`` must be a multiple of 8.
    """
    bits = np.asarray(bits)
    if bits.ndim == 1:
        bits = bits[None, :]
    if bits.ndim != 2:
        raise InvalidParameterError(
            f"The 'bits' parameter of pack_bits must be a 1-D or 2-D array. Got {bits.ndim} dimensions instead."
        )
    check_nbits(bits.shape[1], "pack_bits")
    if bits.dtype != np.bool_:
        if not np.isin(bits, (0, 1)).all():
            raise InvalidParameterError(
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
    check_nbits(nbits, "unpack_bits")
    if nbits != codes.shape[1] * 8:
        raise InvalidParameterError(
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

"""Bits from a real-valued code by a learned rotation: iterative quantisation (ITQ; Gong & Lazebnik, CVPR 2011),
taken to any number of bits.

The real-valued codes of the fit sample are centred and put on the unit sphere, then a projection ``P`` (``d × bits``,
orthonormal columns when ``bits <= d``, orthonormal rows when ``bits > d``) is learned that brings them as close as
possible to the corners of the hypercube, alternating ``B = sign(V P)`` and the orthogonal Procrustes solution for
``P``. A code's bits are then the signs of its centred code times ``P`` (the normalisation does not change a sign).
With ``bits > d`` the extra bits split the sphere finer, so the Hamming distance follows the angle more closely.

How the bits compare with the floats' signs and with a binary code layer: docs/results.md ("Binary codes from the
float code").
"""

from __future__ import annotations

import numpy as np

ITERATIONS = 50
MAX_ROWS = 20_000  # codes the rotation is learned on: a seeded sample of the fit codes beyond this


def learn_rotation(
    units: np.ndarray, bits: int, iterations: int = ITERATIONS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, projection)`` that turn ``(n, d)`` real-valued codes into ``bits`` balanced, decorrelated bits."""
    rng = np.random.default_rng(seed)
    units = np.asarray(units, dtype=np.float64)
    if len(units) > MAX_ROWS:
        units = units[np.sort(rng.permutation(len(units))[:MAX_ROWS])]
    mean = units.mean(0)
    v = units - mean
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    d = v.shape[1]
    if bits <= d:  # classic ITQ: the top principal directions, randomly rotated
        directions = np.linalg.eigh(v.T @ v)[1][:, ::-1][:, :bits]
        projection = directions @ np.linalg.qr(rng.standard_normal((bits, bits)))[0]
    else:
        projection = np.linalg.qr(rng.standard_normal((bits, d)))[0].T
    for _ in range(iterations):
        signs = np.where(v @ projection >= 0, 1.0, -1.0)
        u, _, wt = np.linalg.svd(v.T @ signs, full_matrices=False)
        projection = u @ wt
    return mean.astype(np.float32), projection.astype(np.float32)


def rotated_bits(units: np.ndarray, mean: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """Boolean ``(n, bits)``: the bits of real-valued codes ``units`` under ``learn_rotation``'s result."""
    return (np.asarray(units, dtype=np.float32) - mean) @ projection >= 0

"""The graph part of an image code: where an image sits on the fit set's neighbour graph.

On aligned sets the code with its pixel part ranks about as well as pixel distance does, each image's nearest few
neighbours being mostly right while the next ones drift. A spectral embedding reads the whole neighbourhood
structure instead: the leading eigenvectors of the fit set's normalised k-nearest-neighbour graph (self-tuning
Gaussian weights, Zelnik-Manor & Perona 2004) place images that the graph connects, even through others, close
together. The encoder keeps the fit set's codes (a seeded sample, as half floats) as the graph's anchors and places
every image it encodes, fit images and new ones alike, at the weighted mean of its nearest anchors' embeddings
(the Nyström extension), so a query and an indexed image are placed the same way. The placement is appended to the
code as the pixel part is: the code scaled to unit length, then the weighted unit placement.

How many eigenvectors is read from the graph, label-free: those whose eigenvalue is over ``GRAPH_EIGEN_FROM``
(within ``GRAPH_DIMS``). A set of many kinds of image has many nearly separate parts, each an eigenvalue near 1,
and gets more (the values behind the rule: benchmarks/results/graph-part).

Eigenvectors come from scipy's ARPACK (``eigsh``) on the sparse graph, with a seeded start; the nearest-anchor
search is an exact chunked matrix product, since the anchors are at most ``GRAPH_ANCHORS`` rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, identity
from scipy.sparse.linalg import eigsh

from ..defaults import GRAPH_ANCHORS, GRAPH_DIMS, GRAPH_EIGEN_FROM, GRAPH_NEIGHBOURS, GRAPH_WEIGHT
from .pixel_part import unit_rows

CHUNK = 1024  # rows whose similarities to every anchor are held at once
DENSE_UNDER = 400  # anchors under which the eigenvectors come from a dense solver (ARPACK wants many more than asked)


@dataclass
class GraphPart:
    """The graph's anchors (unit codes, ``(n, d)`` half floats), each anchor's scale (distance to its k-th
    neighbour), their embedding ``(n, m)``, the neighbours an image is placed from, and the part's weight."""

    anchors: np.ndarray
    scales: np.ndarray
    embedding: np.ndarray
    neighbours: int
    weight: float
    note: str = ""  # how many eigenvectors were kept, and why (aer info)

    @property
    def width(self) -> int:
        return self.embedding.shape[1]

    def place(self, codes: np.ndarray) -> np.ndarray:
        """Each code's place on the graph: its nearest anchors' embeddings, averaged with self-tuning Gaussian
        weights, scaled to unit length."""
        idx, dist = nearest(codes, self.anchors, self.neighbours)
        own = np.maximum(dist[:, -1], 1e-6)
        logw = -(dist**2) / (own[:, None] * np.maximum(self.scales[idx], 1e-6))
        w = np.exp(logw - logw.max(axis=1, keepdims=True))  # the nearest anchor always weighs 1: never all zero
        return unit_rows((w[:, :, None] * self.embedding[idx]).sum(axis=1) / w.sum(axis=1, keepdims=True))

    def join(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` scaled to unit rows with their weighted place on the graph after them."""
        return np.hstack([unit_rows(codes), self.weight * self.place(codes)]).astype(np.float32)


def nearest(codes: np.ndarray, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` anchors nearest each code by cosine, nearest first, and their Euclidean distances as unit rows."""
    codes, anchors = unit_rows(codes), anchors.astype(np.float32)
    k = min(k, len(anchors))
    idx = np.empty((len(codes), k), dtype=np.int64)
    sims = np.empty((len(codes), k), dtype=np.float32)
    for start in range(0, len(codes), CHUNK):
        s = codes[start : start + CHUNK] @ anchors.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(k), (len(s), 1))
        top_s = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        idx[start : start + CHUNK] = np.take_along_axis(top, order, axis=1)
        sims[start : start + CHUNK] = np.take_along_axis(top_s, order, axis=1)
    return idx, np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0))


def fit_graph_part(codes: np.ndarray, weight: float, dim: int | None = None, neighbours: int = GRAPH_NEIGHBOURS,
                   seed: int = 0) -> GraphPart:  # fmt: skip
    """The graph of ``codes`` (the fit images' codes; at most ``GRAPH_ANCHORS`` of them, a seeded sample beyond):
    its ``dim`` leading non-trivial eigenvectors (unset: as many as have an eigenvalue over ``GRAPH_EIGEN_FROM``,
    within ``GRAPH_DIMS``), for images placed from their ``neighbours`` nearest anchors."""
    anchors = unit_rows(codes[anchor_sample(len(codes), seed)]).astype(np.float16)
    n = len(anchors)
    k = min(neighbours, n - 1)
    idx, dist = nearest(anchors, anchors, k + 1)  # each anchor's own row first
    scales = np.maximum(dist[:, -1], 1e-6)
    w = np.exp(-(dist**2) / (scales[:, None] * scales[idx]))
    w[idx == np.arange(n)[:, None]] = 0.0  # each anchor's own weight is the identity's below, even among ties
    graph = csr_matrix((w.ravel(), (np.repeat(np.arange(n), k + 1), idx.ravel())), shape=(n, n))
    graph = graph.maximum(graph.T) + identity(n, format="csr")
    inv_sqrt = 1.0 / np.sqrt(np.asarray(graph.sum(axis=1)).ravel())
    normalised = graph.multiply(inv_sqrt[:, None]).multiply(inv_sqrt[None, :]).tocsr()
    most = min(GRAPH_DIMS[1] if dim is None else dim, n - 2)
    if n < DENSE_UNDER:
        values, vectors = np.linalg.eigh(normalised.toarray())
    else:
        start = np.random.default_rng(seed).standard_normal(n)
        # a wide Krylov space: near-separate parts give clustered eigenvalues, which ARPACK's default misses
        values, vectors = eigsh(normalised, k=most + 1, which="LA", v0=start, ncv=min(n - 1, 4 * (most + 1)))
    order = np.argsort(-values, kind="stable")[1 : most + 1]  # the first is the trivial, constant one
    if dim is None:
        over = int((values[order] > GRAPH_EIGEN_FROM).sum())
        order = order[: max(min(over, most), min(GRAPH_DIMS[0], most))]
        note = (f"{len(order)} eigenvectors: {over} have an eigenvalue over {GRAPH_EIGEN_FROM:g} "
                f"(kept within {GRAPH_DIMS[0]} to {GRAPH_DIMS[1]})")  # fmt: skip
    else:
        note = f"{len(order)} eigenvectors (asked)"
    embedding = (vectors[:, order] * inv_sqrt[:, None]).astype(np.float32)  # the random walk's eigenvectors
    return GraphPart(anchors, scales.astype(np.float32), embedding, k, float(weight), note)


def anchor_sample(n_images: int, seed: int = 0) -> np.ndarray:
    """The positions of the fit images the graph is built on: all of them, or a seeded sample of
    ``GRAPH_ANCHORS``."""
    if n_images <= GRAPH_ANCHORS:
        return np.arange(n_images)
    return np.sort(np.random.default_rng(seed).permutation(n_images)[:GRAPH_ANCHORS])


def choose_graph_part(asked: float | None, pixel_part: bool, bits: bool, n_images: int) -> tuple[float, str]:
    """The weight of the graph part (0: none), and why: as asked, none for bits or for too few images, else
    ``GRAPH_WEIGHT`` where the code has a pixel part (an aligned set) and none elsewhere."""
    if bits:
        return 0.0, "none: binary codes"
    if n_images < GRAPH_NEIGHBOURS + 3:
        return 0.0, f"none: {n_images} fit images are too few for a neighbour graph"
    what = (f"the leading eigenvectors of the fit images' {GRAPH_NEIGHBOURS}-nearest-neighbour graph "
            f"({min(n_images, GRAPH_ANCHORS):,} anchors)")  # fmt: skip
    if asked is not None:
        return asked, f"{what}, weight {asked:g} (asked)" if asked else "none (asked)"
    if not pixel_part:
        return 0.0, "none: only with a pixel part (aligned sets)"
    return GRAPH_WEIGHT, f"{what}, weight {GRAPH_WEIGHT:g}: with the pixel part (an aligned set)"


def graph_state(part: GraphPart | None) -> dict[str, float]:
    """What a saved encoder's state records of its graph part (nothing without one)."""
    if part is None:
        return {}
    return {"graph_part": part.weight, "graph_neighbours": part.neighbours, "graph_note": part.note}


def graph_arrays(part: GraphPart | None) -> dict[str, np.ndarray]:
    """The graph part's arrays to save (none without one)."""
    if part is None:
        return {}
    return {"graph_anchors": part.anchors, "graph_scales": part.scales, "graph_embedding": part.embedding}


def load_graph(state: dict, arrays: dict[str, np.ndarray]) -> GraphPart | None:
    """The graph part ``graph_state`` and ``graph_arrays`` saved; ``None`` for an encoder saved without one."""
    if not state.get("graph_part"):
        return None
    return GraphPart(arrays["graph_anchors"], arrays["graph_scales"], arrays["graph_embedding"],
                     int(state["graph_neighbours"]), float(state["graph_part"]),
                     state.get("graph_note", ""))  # fmt: skip

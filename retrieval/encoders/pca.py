"""PCA of the pixels: the linear baseline an image autoencoder must beat; its sign bits, the binary one (PCAH)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.decomposition import PCA

from indexers import pack_bits

from .base import check_bits
from .image_base import ImageEncoder, as_batch, flat_unit


class PcaEncoder(ImageEncoder):
    """Codes are the projections on the top ``dim`` principal components, searched by L2; given ``bits``,
    the signs of the projections on the top ``bits`` components, searched by Hamming distance."""

    name: ClassVar[str] = "pca"

    def __init__(self, dim: int = 64, bits: int | None = None, seed: int = 0) -> None:
        self.code_dim = dim
        self.bits = bits
        self.seed = seed

    @property
    def dim(self) -> int:
        return self.bits or self.code_dim

    @property
    def metric(self) -> str:  # type: ignore[override]
        return "hamming" if self.bits else "l2"

    def describe(self) -> str:
        return f"pca({'sign bits=' + str(self.bits) if self.bits else 'dim=' + str(self.code_dim)})"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.code_dim, "bits": self.bits, "seed": self.seed}

    def _fit_images(self, images: np.ndarray) -> None:
        check_bits(self.bits)
        if self.dim > min(images.shape[0], images[0].size):
            raise ValueError(f"pca: {self.dim} components need at least {self.dim} images; got {images.shape[0]}")
        pca = PCA(n_components=self.dim, svd_solver="randomized", random_state=self.seed)
        pca.fit(flat_unit(images))
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)

    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        projections = (flat_unit(images) - self.mean_) @ self.components_.T
        return pack_bits(projections > 0) if self.bits else projections

    def reconstruction_error(self, items: Any) -> np.ndarray:
        """Squared distance of each image (unit pixels) from its projection on the components."""
        x = flat_unit(as_batch(items)) - self.mean_
        residual = x - (x @ self.components_.T) @ self.components_
        return (residual**2).mean(1)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "components": self.components_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.mean_, self.components_ = arrays["mean"], arrays["components"]

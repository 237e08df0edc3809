"""PCA of the pixels: the linear baseline an image autoencoder must beat."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.decomposition import PCA

from .image_base import ImageEncoder, flat_unit


class PcaEncoder(ImageEncoder):
    """Codes are the projections on the top ``dim`` principal components; searched by L2."""

    name: ClassVar[str] = "pca"
    metric: ClassVar[str] = "l2"

    def __init__(self, dim: int = 64, seed: int = 0) -> None:
        self.code_dim = dim
        self.seed = seed

    @property
    def dim(self) -> int:
        return self.code_dim

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.code_dim, "seed": self.seed}

    def _fit_images(self, images: np.ndarray) -> None:
        pca = PCA(n_components=self.code_dim, svd_solver="randomized", random_state=self.seed)
        pca.fit(flat_unit(images))
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)

    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        return (flat_unit(images) - self.mean_) @ self.components_.T

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "components": self.components_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.mean_, self.components_ = arrays["mean"], arrays["components"]

"""PCA of the pixels: the linear baseline an image autoencoder must beat; its sign bits, the binary one (PCAH)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.decomposition import PCA

from indexers import pack_bits

from ..defaults import PcaConfig
from ..errors import InvalidParameterError
from .base import CodeWidth
from .image_base import ImageEncoder, flat_unit
from .params import check_bits
from .registry import register


@register
class PcaEncoder(CodeWidth, ImageEncoder):
    """Codes are the projections on the top ``dim`` principal components, searched by L2; given ``bits``,
    the signs of the projections on the top ``bits`` components, searched by Hamming distance."""

    name: ClassVar[str] = "pca"
    config_class: ClassVar[type] = PcaConfig

    @property
    def metric(self) -> str:  # type: ignore[override]
        return "hamming" if self.bits else "l2"

    def describe(self) -> str:
        return f"pca({'sign bits=' + str(self.bits) if self.bits else 'dim=' + str(self.dim)})"

    def _fit_images(self, images: np.ndarray) -> None:
        check_bits(self.bits, type(self).__name__)
        if self.dim > min(images.shape[0], images[0].size):
            raise InvalidParameterError(
                f"pca: {self.dim} components need at least {self.dim} images; got {images.shape[0]}"
            )
        pca = PCA(n_components=self.dim, svd_solver="randomized", random_state=self.seed)
        pca.fit(flat_unit(images))
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)

    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Projections (or their signs) and, if asked, each image's squared distance (unit pixels, mean
        per pixel) from its projection on the components."""
        x = flat_unit(inputs) - self.mean_
        projections = x @ self.components_.T
        residual = ((x - projections @ self.components_) ** 2).mean(1) if errors else None
        return (pack_bits(projections > 0) if self.bits else projections), residual

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "components": self.components_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mean_, self.components_ = arrays["mean"], arrays["components"]
        super()._set_arrays(state, arrays)

"""Encoders over 32×32 RGB images (``(n, 32, 32, 3)`` uint8, as ``retrieval.images.to_pixels`` makes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import NotFittedError
from .base import Encoder

PIXELS = 32 * 32 * 3


def as_batch(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Stack images into ``(n, 32, 32, 3)`` uint8, checking the shape."""
    batch = np.asarray(images, dtype=np.uint8)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.shape[1:] != (32, 32, 3):
        raise ValueError(f"images must be 32x32x3 uint8 (see retrieval.images.to_pixels); got shape {batch.shape}")
    return batch


def flat_unit(images: np.ndarray) -> np.ndarray:
    """``(n, 3072)`` float32 in [0, 1], channel-last order."""
    return as_batch(images).reshape(len(images), PIXELS).astype(np.float32) / 255.0


class ImageEncoder(Encoder):
    """Common parts of the image encoders; subclasses implement ``_fit_images``/``_encode_images``."""

    modality: ClassVar[str] = "image"

    def fit(self, items: Any) -> ImageEncoder:
        self._fit_images(as_batch(items))
        self.fitted_ = True
        return self

    def encode(self, items: Any) -> np.ndarray:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit() first.")
        return self._encode_images(as_batch(items))

    def _fit_images(self, images: np.ndarray) -> None: ...

    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.fitted_ = True

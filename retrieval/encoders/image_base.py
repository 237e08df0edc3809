"""Encoders over 32×32 RGB images (``(n, 32, 32, 3)`` uint8, as ``retrieval.images.to_pixels`` makes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidParameterError, QueryError
from ..images import ImageError, to_pixels
from .base import Encoder

PIXELS = 32 * 32 * 3


def as_batch(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Stack images into ``(n, 32, 32, 3)`` uint8, checking the shape."""
    batch = np.asarray(images, dtype=np.uint8)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.shape[1:] != (32, 32, 3):
        raise InvalidParameterError(
            f"images must be 32x32x3 uint8 (see retrieval.images.to_pixels); got shape {batch.shape}"
        )
    return batch


def flat_unit(images: np.ndarray) -> np.ndarray:
    """``(n, 3072)`` float32 in [0, 1], channel-last order."""
    return as_batch(images).reshape(len(images), PIXELS).astype(np.float32) / 255.0


def query_pixels(query: Any) -> np.ndarray:
    """One query image (a path, PIL image or array) as ``(32, 32, 3)`` uint8; ``QueryError`` if unusable."""
    try:
        return to_pixels(query)
    except ImageError as exc:
        name = str(query) if isinstance(query, (str, Path)) else type(query).__name__
        raise QueryError(f"query image {name}: {exc}") from exc


class ImageEncoder(Encoder):
    """Common parts of the image encoders; subclasses implement ``_fit_images`` and ``_encode``."""

    modality: ClassVar[str] = "image"

    def _fit(self, items: Any) -> None:
        self._fit_images(as_batch(items))

    def _fit_images(self, images: np.ndarray) -> None:
        """Learn from the ``(n, 32, 32, 3)`` batch (nothing, by default)."""

    def _prepare(self, items: Any) -> np.ndarray:
        return as_batch(items)

    def _prepare_queries(self, queries: Sequence[Any]) -> np.ndarray:
        if not len(queries):
            return np.empty((0, 32, 32, 3), dtype=np.uint8)
        return np.stack([query_pixels(q) for q in queries])

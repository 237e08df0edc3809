"""Raw pixels compared by Euclidean distance: the baseline the 2011 paper argues against."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .image_base import PIXELS, ImageEncoder, flat_unit


class PixelEncoder(ImageEncoder):
    """Codes are the 3,072 pixel values scaled to [0, 1]; searched by L2."""

    name: ClassVar[str] = "pixels"
    metric: ClassVar[str] = "l2"

    @property
    def dim(self) -> int:
        return PIXELS

    def get_config(self) -> dict[str, Any]:
        return {}

    def _encode_images(self, images: np.ndarray) -> np.ndarray:
        return flat_unit(images)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {}

"""Raw pixels compared by Euclidean distance: the baseline the 2011 paper argues against."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..defaults import PixelsConfig
from .image_base import PIXELS, ImageEncoder, flat_unit
from .registry import register


@register
class PixelEncoder(ImageEncoder):
    """Codes are the 3,072 pixel values scaled to [0, 1]; searched by L2. Nothing to learn."""

    name: ClassVar[str] = "pixels"
    config_class: ClassVar[type] = PixelsConfig
    metric: ClassVar[str] = "l2"
    dim: ClassVar[int] = PIXELS

    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, None]:
        return flat_unit(inputs), None

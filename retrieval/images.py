"""Any image to the 32×32 RGB array the image encoders take, by one documented rule.

The rule: convert to RGB (greyscale is replicated, an alpha channel is dropped after
compositing on white), resize so the *shorter* side is 32 pixels (bicubic, with Pillow's
antialiasing), then crop the centre 32×32. Images whose shorter side is under
``MIN_SIDE`` pixels carry too little to upscale and are refused.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

SIZE = 32
MIN_SIDE = 8
MAX_PIXELS = 100_000_000  # a larger image is refused rather than decoded (decompression bombs)
_DECODER_ERRORS = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    ZeroDivisionError,
    OverflowError,
    struct.error,
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


class ImageError(ValueError):
    """An input is not a usable image; the message says why."""


def to_pixels(image: Any, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A path, PIL image or ``HxW``/``HxWx3``/``HxWx4`` uint8 array → ``(32, 32, 3)`` uint8. An image file of
    more than ``max_pixels`` is refused from its header, before any pixel is decoded."""
    if isinstance(image, (str, Path)):
        return _from_path(Path(image), max_pixels)
    if isinstance(image, Image.Image):
        return _fit(image)
    if isinstance(image, np.ndarray):
        return _fit(_from_array(image))
    raise ImageError(f"cannot use a {type(image).__name__} as an image (give a path, a PIL image or an array)")


def _from_path(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    try:
        if path.stat().st_size == 0:
            raise ImageError("empty file")
        with warnings.catch_warnings():  # our own cap below decides, Pillow's warning would only be noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > max_pixels:
                    raise ImageError(f"image too large ({img.width}×{img.height} pixels; at most {max_pixels:,})")
                img.draft("RGB", (4 * SIZE, 4 * SIZE))  # JPEG: decode at a reduced size, much faster
                return _fit(img)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow refuses to even open it: one rejected item
        raise ImageError(f"image too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image file Pillow can read") from exc
    except (OSError, SyntaxError) as exc:  # truncated or corrupt data, unreadable file
        if isinstance(exc, FileNotFoundError):
            raise ImageError("file not found") from exc
        if isinstance(exc, PermissionError):
            raise ImageError("permission denied") from exc
        raise ImageError(f"corrupt or truncated image ({exc})") from exc
    except _DECODER_ERRORS as exc:  # what Pillow's format parsers raise on malformed headers (found by fuzzing)
        raise ImageError(f"corrupt image ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _from_array(arr: np.ndarray) -> Image.Image:
    if arr.dtype != np.uint8:
        raise ImageError(f"image arrays must be uint8, got {arr.dtype}")
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)):
        return Image.fromarray(arr)
    raise ImageError(f"image arrays must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")


def _fit(img: Image.Image) -> np.ndarray:
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"image too small ({w}×{h} pixels; the shorter side needs at least {MIN_SIDE})")
    img.load()
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    scale = SIZE / min(w, h)
    new = (max(SIZE, round(w * scale)), max(SIZE, round(h * scale)))
    if new != (w, h):
        img = img.resize(new, Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (new[0] - SIZE) // 2, (new[1] - SIZE) // 2
    return np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), dtype=np.uint8)

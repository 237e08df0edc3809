"""The pixel part of an image code: a compact linear part of the input kept beside the learned code.

On aligned, centred sets (digits, product photos on a plain background) pixel distance already ranks well, and a
code trained to forget where things are can lose to it. There the image autoencoders append the top principal
components of the fit images' pixels to the code: each part is scaled to unit length and the pixel part weighted,
so the cosine the index computes is ``(cos(code) + w² · cos(pixels)) / (1 + w²)``, a fixed blend of the two
spaces. Whether a set gets the part, and its weight, is chosen from the fit images without labels
(``choose_pixel_part``, with the values of ``retrieval.defaults``); where it is off the code is exactly the
network's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from ..defaults import ALIGNED_FROM, CROP_SCALES, PIXEL_WEIGHT
from .image_base import flat_unit

FIT_SAMPLE = 10_000  # fit images the components are computed from at most (a seeded sample beyond)


@dataclass
class PixelPart:
    """Principal components of the fit images' pixels (``(k, 3072)``) and their mean, and the part's weight."""

    mean: np.ndarray
    components: np.ndarray
    weight: float

    @property
    def width(self) -> int:
        return len(self.components)

    def project(self, images: np.ndarray) -> np.ndarray:
        """The images' projections on the components, each row scaled to unit length."""
        return unit_rows((flat_unit(images) - self.mean) @ self.components.T)

    def join(self, codes: np.ndarray, images: np.ndarray) -> np.ndarray:
        """``codes`` scaled to unit rows with the images' weighted pixel part after them."""
        return np.hstack([unit_rows(codes), self.weight * self.project(images)]).astype(np.float32)


def fit_pixel_part(images: np.ndarray, width: int, weight: float, seed: int = 0) -> PixelPart:
    """The top ``width`` principal components of ``images`` (``(n, 32, 32, 3)`` uint8; a seeded sample of
    ``FIT_SAMPLE`` where there are more), to be appended with ``weight``."""
    if len(images) > FIT_SAMPLE:
        images = images[np.sort(np.random.default_rng(seed).permutation(len(images))[:FIT_SAMPLE])]
    width = min(width, len(images) - 1)
    pca = PCA(n_components=width, svd_solver="randomized", random_state=seed).fit(flat_unit(images))
    return PixelPart(pca.mean_.astype(np.float32), pca.components_.astype(np.float32), float(weight))


def choose_pixel_part(asked: float | None, width: int, bits: bool,
                      crop_ratio: Callable[[], float]) -> tuple[float, str]:  # fmt: skip
    """The weight of the pixel part appended to a float code (0: none), and why: as asked, none for bits, else
    ``PIXEL_WEIGHT`` on aligned sets (``crop_ratio()``: crops of the strongest scale over the images' own distance
    to the set, at least ``ALIGNED_FROM``) and none elsewhere."""
    if bits:
        return 0.0, "none: binary codes"
    if asked is not None:
        return asked, (f"{width} principal components of the pixels, weight {asked:g} (asked)" if asked
                       else "none (asked)")  # fmt: skip
    ratio = crop_ratio()
    aligned = ratio >= ALIGNED_FROM
    weight = PIXEL_WEIGHT if aligned else 0.0
    what = f"{width} principal components of the pixels, weight {weight:g}" if aligned else "none"
    return weight, (f"{what}: crops of {CROP_SCALES[0]:g} are {ratio:.2f}× as far from the set as the images "
                    f"({'at least' if aligned else 'under'} {ALIGNED_FROM}: {'' if aligned else 'not '}an aligned set)")


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row over its Euclidean norm (a zero row stays zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def part_state(part: PixelPart | None) -> dict[str, float]:
    """What a saved encoder's state records of its pixel part (nothing without one)."""
    return {"pixel_part": part.weight} if part is not None else {}


def part_arrays(part: PixelPart | None) -> dict[str, np.ndarray]:
    """The pixel part's arrays to save (none without one)."""
    return {"part_mean": part.mean, "part_components": part.components} if part is not None else {}


def load_part(state: dict, arrays: dict[str, np.ndarray]) -> PixelPart | None:
    """The pixel part ``part_state`` and ``part_arrays`` saved; ``None`` for an encoder saved without one."""
    if not state.get("pixel_part"):
        return None
    return PixelPart(arrays["part_mean"], arrays["part_components"], float(state["pixel_part"]))

"""Which training views suit a set of images, read from the images themselves (label-free): whether to mirror
them and how hard to crop them."""

from __future__ import annotations

import numpy as np

from ..nn.augment import crop_ratio, mirror_ratio

# Mirror augmentation is used unless mirrored fit images are this much farther from the set than the originals.
MIRROR_LIMIT = 1.25
# Crops: the strongest of these scales whose crops stay within CROP_LIMIT of the set (crop_ratio); else the last.
CROP_SCALES = (0.6, 0.7, 0.8, 0.9)
CROP_LIMIT = 2.5


def choose_flips(asked: bool | None, images: np.ndarray) -> tuple[bool, str]:
    """Whether training mirrors images, and why: as asked, or when mirrored fit images are about as close to
    the set as the images themselves (photographs; not digits or text, where a mirror image is no sample)."""
    if asked is not None:
        return asked, "on (asked)" if asked else "off (asked)"
    ratio = mirror_ratio(images)
    used = ratio < MIRROR_LIMIT
    return used, (f"{'on' if used else 'off'}: mirrored fit images are {ratio:.2f}× as far from the set as the "
                  f"images (limit {MIRROR_LIMIT})")  # fmt: skip


def choose_crops(asked: float | None, contrastive: float, images: np.ndarray) -> tuple[float, str]:
    """The crop scale of the training views, and why: as asked, or the strongest of ``CROP_SCALES`` whose
    crops stay about as close to the set as its images (``crop_ratio``; photographs take the strongest)."""
    if asked is not None:
        return asked, f"{asked:g} of each side (asked)"
    if not contrastive:
        return CROP_SCALES[0], "no views (contrastive=0)"
    for scale in CROP_SCALES:
        ratio = crop_ratio(images, scale)
        if ratio < CROP_LIMIT:
            break
    return scale, (f"{scale:g} of each side: crops that size are {ratio:.2f}× as far from the set as the images "
                   f"(limit {CROP_LIMIT}, scales tried {', '.join(map(str, CROP_SCALES))})")  # fmt: skip

"""The ``fashion`` corpora of ``aer bench general``: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 70,000 centred,
aligned 28×28 greyscale photographs of clothing in 10 classes, read from an installed copy — nothing is downloaded.

Where it is read from (the first folder holding the four IDX files, ``train-images-idx3-ubyte.gz`` and the rest):

- ``<data dir>/fashion-mnist`` (a copy of the folder below);
- Debian's package ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``):
  ``/usr/share/datasets/fashion-mnist``.

The images and their labels are the zalandoresearch/fashion-mnist repository's, MIT licence (Zalando SE).

``fashion-<n>``: a seeded class-stratified sample of ``n`` of the 60,000 train images is the database; the queries
are one seeded uniform sample of the 10,000 test images, the same for every size (as ``cifar-<n>``). Each 28×28
image is padded to 32×32 with two rows and columns of black (0, the set's background) on every side, no resizing,
and its grey value copied into the three channels: the pixels the image encoders read are the set's own.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ..errors import SourceError
from ..sources import ImageItem

PACKAGE = "dataset-fashion-mnist"  # Debian
INSTALL = f"apt-get install {PACKAGE}"
SYSTEM_FOLDER = Path("/usr/share/datasets/fashion-mnist")
FOLDER_NAME = "fashion-mnist"
LICENCE = "Fashion-MNIST (Zalando SE, 2017): MIT licence; Debian package dataset-fashion-mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SIZES = (1000, 3000)  # fashion-<n>: database images
NAMES = tuple(f"fashion-{n}" for n in SIZES)
QUICK_SIZE = 300  # a quick run's database, whatever the size named
SIDE, PAD = 28, 2
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def system_folders() -> list[Path]:
    """Where an installed Fashion-MNIST may be (Debian's package)."""
    return [SYSTEM_FOLDER]


def find_fashion(data_dir: str | Path | None = None, *, system: bool = True) -> Path:
    """The folder of Fashion-MNIST: ``<data_dir>/fashion-mnist`` first, then (``system``) Debian's package's.

    ``SourceError`` naming the package to install and the folders looked in when none holds it."""
    looked = [Path(data_dir) / FOLDER_NAME] if data_dir is not None else []
    if system:
        looked += system_folders()
    for folder in looked:
        if all((folder / name).is_file() for pair in FILES.values() for name in pair):
            return folder
    raise SourceError(
        f"Fashion-MNIST not found (looked in {', '.join(map(str, looked))}): install Debian's package {PACKAGE} "
        f"({INSTALL}) or copy its four IDX files into {Path(data_dir or '.') / FOLDER_NAME}"
    )


def read_idx(path: Path, magic: int) -> np.ndarray:
    """A gzipped IDX file (unsigned bytes): ``(n, rows, cols)`` for images, ``(n,)`` for labels;
    ``SourceError`` naming the file when it is not one."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: not a readable gzip file ({exc})") from exc
    dims = 3 if magic == _IMAGES_MAGIC else 1
    header = 4 + 4 * dims
    if len(data) < header or struct.unpack(">I", data[:4])[0] != magic:
        raise SourceError(f"{path}: not an IDX file of {'images' if dims == 3 else 'labels'} (bad header)")
    shape = struct.unpack(f">{dims}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise SourceError(f"{path}: {len(data) - header} bytes of data where the header says {int(np.prod(shape))}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images (n, 32, 32, 3) uint8, labels (n,))`` of the ``train`` or ``test`` split (``pad_rgb``)."""
    image_file, label_file = (folder / name for name in FILES[split])
    images, labels = read_idx(image_file, _IMAGES_MAGIC), read_idx(label_file, _LABELS_MAGIC)
    if images.shape[1:] != (SIDE, SIDE) or len(images) != len(labels):
        raise SourceError(f"{image_file}: {images.shape} images for {len(labels)} labels (want n×{SIDE}×{SIDE})")
    if labels.max(initial=0) >= len(CLASSES):
        raise SourceError(f"{label_file}: label {int(labels.max())} (Fashion-MNIST has {len(CLASSES)} classes)")
    return pad_rgb(images), labels


def pad_rgb(images: np.ndarray) -> np.ndarray:
    """``(n, 28, 28)`` greys → ``(n, 32, 32, 3)``: ``PAD`` black rows and columns on every side, the grey in every
    channel."""
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))
    return np.repeat(padded[..., None], 3, axis=3)


def items(images: np.ndarray, labels: np.ndarray, positions: np.ndarray, split: str = "train") -> list[ImageItem]:
    """The images at ``positions`` as items named by split and position, labelled by class name."""
    return [ImageItem(id=f"fashion/{split}/{i:05d}", pixels=images[i], label=CLASSES[labels[i]],
                      source=f"fashion-mnist {split} {i}") for i in positions]  # fmt: skip

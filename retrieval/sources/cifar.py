"""CIFAR-10 in its canonical binary layout (``cifar-10-binary.tar.gz`` or its extracted folder).

Records are 3,073 bytes: a label byte, then 1,024 red, 1,024 green and 1,024 blue bytes, row-major.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import SourceError
from .items import ImageItem
from .newsgroups import ARCHIVE_ERRORS, first_file_member

RECORD = 1 + 32 * 32 * 3
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
META = "batches.meta.txt"


def is_cifar10(path: Path) -> bool:
    """True for the binary archive or a folder holding its batch files."""
    if path.is_dir():
        return (path / META).exists() or (path / "cifar-10-batches-bin" / META).exists()
    name = first_file_member(path)
    return name is not None and name.startswith(("cifar-10-batches-bin/", "./cifar-10-batches-bin/"))


def load_cifar10(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images (n, 32, 32, 3) uint8, labels (n,) int64, class names)`` of one split."""
    files = {"train": TRAIN_FILES, "test": TEST_FILES}.get(split)
    if files is None:
        raise ValueError(f"The 'split' parameter must be 'train' or 'test'. Got {split!r} instead.")
    blobs = _read_members(Path(path), (*files, META))
    try:
        names = [n for n in blobs[META].decode().splitlines() if n.strip()]
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: {META} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    chunks = []
    for name in files:
        data = blobs[name]
        if len(data) % RECORD:
            raise SourceError(f"{path}: {name} is {len(data)} bytes, not a whole number of {RECORD}-byte records")
        chunks.append(np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD))
    records = np.concatenate(chunks)
    labels = records[:, 0].astype(np.int64)
    if labels.max(initial=0) >= len(names):
        raise SourceError(f"{path}: label {labels.max(initial=0)} but only {len(names)} class names in {META}")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return images, labels, names


def iter_cifar10(path: str | Path, split: str = "train") -> Iterator[ImageItem]:
    """Items ``<split>/<index>`` with class-name labels."""
    images, labels, names = load_cifar10(path, split)
    for i, (img, lab) in enumerate(zip(images, labels)):
        yield ImageItem(id=f"{split}/{i:05d}", pixels=img, label=names[lab], source=f"{path}::{split}[{i}]")


def _read_members(path: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        if path.is_dir():
            base = path / "cifar-10-batches-bin" if (path / "cifar-10-batches-bin").is_dir() else path
            out = {name: (base / name).read_bytes() for name in wanted if (base / name).exists()}
        else:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    name = member.name.rsplit("/", 1)[-1]
                    if name in wanted and member.isfile():
                        fh = tar.extractfile(member)
                        out[name] = fh.read() if fh else b""
    except ARCHIVE_ERRORS as exc:
        raise SourceError(f"{path}: cannot read the CIFAR-10 archive ({exc})") from exc
    missing = [n for n in wanted if n not in out]
    if missing:
        raise SourceError(f"{path}: not a complete CIFAR-10 binary archive (missing {', '.join(missing)})")
    return out

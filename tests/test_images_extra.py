"""The ``fashion`` corpora of ``aer bench general`` (retrieval/eval/images_extra.py), on a tiny fake installation."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import SourceError
from retrieval.eval import images_extra
from retrieval.eval.corpus import check_files, load_corpora, planned_names, select
from retrieval.eval.images_extra import CLASSES, FILES, find_fashion, load_split, read_idx


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_fashion(folder: Path, train: int = 40, test: int = 20, seed: int = 0) -> dict[str, tuple]:
    """A fake Fashion-MNIST: ``train`` / ``test`` random 28×28 images, labels cycling through the 10 classes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    made = {}
    for split, n in (("train", train), ("test", test)):
        images = rng.integers(1, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n) % len(CLASSES)
        write_idx(folder / FILES[split][0], images, 2051)
        write_idx(folder / FILES[split][1], labels, 2049)
        made[split] = (images, labels)
    return made


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """A data folder with a fake copy under ``fashion-mnist``; the real system folder hidden."""
    monkeypatch.setattr(images_extra, "SYSTEM_FOLDER", tmp_path / "nowhere")
    made = write_fashion(tmp_path / "data" / "fashion-mnist")
    return tmp_path / "data", made


def test_split_is_padded_not_resized(installed: tuple[Path, dict]) -> None:
    data, made = installed
    images, labels = load_split(find_fashion(data), "train")
    original, original_labels = made["train"]
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images[:, 2:30, 2:30, 0], original)  # the set's own pixels, moved by two
    assert np.array_equal(images[..., 0], images[..., 2])  # grey in every channel
    assert not images[:, :2].any() and not images[:, :, 30:].any()  # a black border
    assert np.array_equal(labels, original_labels)


def test_corpus_is_stratified_sample_queried_by_the_test_split(installed: tuple[Path, dict]) -> None:
    data, made = installed
    (corpus,) = load_corpora(data, ["fashion-1000"])
    assert corpus.modality == "image" and corpus.protocol == "test-vs-train"
    assert len(corpus.database) == 40  # 1,000 asked, the whole (tiny) split
    assert len(corpus.queries) == 20 and corpus.query_labels == [CLASSES[t] for t in made["test"][1]]
    assert corpus.database[3].label == CLASSES[3] and corpus.database[3].pixels.shape == (32, 32, 3)
    assert "MIT" in corpus.notes["source"]
    quick = next(load_corpora(data, ["fashion-3000"], quick=True))
    assert len(quick.database) == 40  # QUICK_SIZE (300) > 40: all of them


def test_named_only_and_selected_by_family() -> None:
    assert not any(n.startswith("fashion") for n in planned_names())
    assert select("fashion") == list(images_extra.NAMES)
    assert select("digits,fashion-3000") == ["digits", "fashion-3000"]


def test_missing_installation_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images_extra, "SYSTEM_FOLDER", tmp_path / "nowhere")
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceError, match="apt-get install dataset-fashion-mnist"):
        check_files(tmp_path / "data", ["fashion-1000"])


def test_found_where_debian_installs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fashion(tmp_path / "usr-share")
    monkeypatch.setattr(images_extra, "SYSTEM_FOLDER", tmp_path / "usr-share")
    assert find_fashion(tmp_path) == tmp_path / "usr-share"
    with pytest.raises(SourceError):
        find_fashion(tmp_path, system=False)


def test_bad_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.gz"
    write_idx(bad, np.zeros(5, np.uint8), 2049)  # labels where images are expected
    with pytest.raises(SourceError, match="x.gz: not an IDX file of images"):
        read_idx(bad, 2051)
    (tmp_path / "y.gz").write_bytes(b"not gzip")
    with pytest.raises(SourceError, match="y.gz: not a readable gzip file"):
        read_idx(tmp_path / "y.gz", 2049)
    short = tmp_path / "z.gz"
    with gzip.open(short, "wb") as f:
        f.write(struct.pack(">4I", 2051, 3, 28, 28) + b"\0" * 10)
    with pytest.raises(SourceError, match="z.gz: 10 bytes of data"):
        read_idx(short, 2051)

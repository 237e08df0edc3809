"""The Python API's ergonomics: plain strings as documents (with stable ids), a collection's repr, and messages
for a query or item of the wrong modality that name the collection's modality."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import retrieval
from retrieval.collection.inputs import as_item, text_id

from .conftest import make_images


@pytest.fixture
def news(tmp_path, built_text):
    """A private copy of the 36-document fake-encoder collection, named news.aer."""
    return retrieval.open(shutil.copytree(built_text, tmp_path / "news.aer"), device="cpu")


@pytest.fixture(scope="module")
def built_photos(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    for n, (label, img) in enumerate(make_images(per_class=4)):
        (root / "src" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "src" / label / f"{n:03d}.png")
    retrieval.index_source(root / "src", root / "photos.aer", encoder="fake-image", dim=6)
    return root / "photos.aer"


def test_a_plain_string_is_added_as_a_document_with_a_stable_id(news):
    before = len(news)
    report = news.add(["orbit shuttle launch rocket nasa moon", "engine car brake tire dealer"])
    assert report.added == 2 and not report.rejected and len(news) == before + 2
    item = news.item(text_id("orbit shuttle launch rocket nasa moon"))
    assert item.snippet == "orbit shuttle launch rocket nasa moon"
    again = news.add(["orbit shuttle launch rocket nasa moon"])  # the same text: the same id, updated in place
    assert (again.added, again.updated, len(news)) == (0, 1, before + 2)


def test_text_ids_are_stable_and_differ_between_texts():
    assert text_id("hello") == text_id("hello") == "text-aaf4c61ddcc5e8a2"  # SHA-1 of b"hello", 16 hex digits
    assert text_id("hello") != text_id("hello ")
    assert as_item("hello").id == text_id("hello") and as_item("hello").text == "hello"
    doc = retrieval.Document("mine", "kept as it is")
    assert as_item(doc) is doc


def test_a_bad_plain_string_is_rejected_by_name_not_raised(news):
    report = news.add(["   ", "orbit shuttle"])
    assert report.added == 1 and [r.id for r in report.rejected] == [text_id("   ")]
    assert "empty text" in report.rejected[0].reason


def test_repr_names_the_collection_its_modality_size_and_code(news):
    assert repr(news) == "<Collection news.aer: text, 36 items, fake-text 32 floats>"
    news.add(["one more document about rockets"])
    assert "37 items" in repr(news)


def test_repr_of_an_image_collection(built_photos):
    with retrieval.open(built_photos, device="cpu") as col:
        assert repr(col) == "<Collection photos.aer: image, 12 items, fake-image 6 floats>"


def test_searching_a_text_collection_with_an_image_says_it_is_a_text_collection(news):
    pixels = make_images(per_class=1)[0][1]
    with pytest.raises(retrieval.QueryError, match=r"^news\.aer is a text collection: search it with text, not an "
                       r"array$"):  # fmt: skip
        news.search(pixels)
    with pytest.raises(retrieval.QueryError, match=r"news\.aer is a text collection: search it with text, not an image"):
        news.search(Image.fromarray(pixels))
    with pytest.raises(retrieval.QueryError, match=r"news\.aer is a text collection: search it with text, not a path"):
        news.search(Path("photo.png"))


def test_adding_an_image_to_a_text_collection_says_it_is_a_text_collection(news):
    image = retrieval.ImageItem("img-1", make_images(per_class=1)[0][1])
    with pytest.raises(retrieval.CollectionError, match=r"img-1: news\.aer is a text collection: add Documents or "
                       r"strings, not an ImageItem"):  # fmt: skip
        news.add([image])


def test_an_image_collection_refuses_text_naming_its_modality(built_photos):
    with retrieval.open(built_photos, device="cpu") as col:
        with pytest.raises(retrieval.QueryError, match=r"photos\.aer is an image collection: search it with an "
                           r"image file's path.*not text \('orbital launch'\)"):  # fmt: skip
            col.search("orbital launch")
        with pytest.raises(retrieval.QueryError, match="query image"):  # a missing file is still named as a file
            col.search("no/such/picture.png")
        with pytest.raises(retrieval.CollectionError, match=r"photos\.aer is an image collection: add ImageItems"):
            col.add(["some words"])
        assert len(col.search(np.zeros((32, 32, 3), np.uint8), k=3)) == 3


def test_pixels_of_a_text_collection_name_its_modality(news):
    with pytest.raises(retrieval.CollectionError, match=r"news\.aer is a text collection"):
        news.pixels(["space-00"])


def test_the_package_lists_its_public_names():
    assert {"open", "Collection", "Document", "ImageItem", "Hit", "index_source", "add_source"} <= set(
        retrieval.__all__
    )
    assert all(hasattr(retrieval, name) for name in retrieval.__all__)

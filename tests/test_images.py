from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import retrieval
from cli.main import main
from retrieval.images import ImageError, to_pixels
from retrieval.sources import ImageItem, Rejected, iter_items, load_cifar10, source_modality

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-binary.tar.gz"


def test_resize_rule_shorter_side_then_centre_crop():
    wide = np.zeros((64, 128, 3), dtype=np.uint8)
    wide[:, 48:80] = 255  # a white band in the middle third: it must end up in the centre crop
    out = to_pixels(wide)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 16].min() > 200 and out[:, 0].max() < 50 and out[:, 31].max() < 50


def test_greyscale_and_rgba_become_rgb(tmp_path):
    grey = Image.fromarray(np.full((40, 40), 100, dtype=np.uint8), mode="L")
    assert (to_pixels(grey) == 100).all()
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)  # fully transparent: composited on white
    assert (to_pixels(rgba) == 255).all()
    Image.fromarray(rgba[..., :3]).save(tmp_path / "x.png")
    assert to_pixels(str(tmp_path / "x.png")).shape == (32, 32, 3)


@pytest.mark.parametrize("bad,reason", [
    (np.zeros((32, 32, 3), dtype=np.float32), "uint8"),
    (np.zeros((32, 32, 2), dtype=np.uint8), "shape"),
    (np.zeros((1, 1, 3), dtype=np.uint8), "too small"),
    (42, "cannot use a int"),
])  # fmt: skip
def test_unusable_images_say_why(bad, reason):
    with pytest.raises(ImageError, match=reason):
        to_pixels(bad)


def test_mixed_folder_indexes_the_valid_images_and_names_each_rejected_file(tmp_path, image_dir):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(image_dir / "red" / "photo.jpg")
    Image.fromarray(rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(
        image_dir / "red" / "huge.jpg", quality=50
    )
    Image.fromarray(np.zeros((1, 1, 3), dtype=np.uint8)).save(image_dir / "red" / "dot.png")
    good = image_dir / "green" / "010.png"
    (image_dir / "green" / "truncated.png").write_bytes(good.read_bytes()[:80])
    (image_dir / "green" / "notes.jpg").write_text("this is text, not a JPEG")
    (image_dir / "green" / "empty.png").write_bytes(b"")
    items = list(iter_items(image_dir))
    rejected = {r.id: r.reason for r in items if isinstance(r, Rejected)}
    assert set(rejected) == {"red/dot.png", "green/truncated.png", "green/notes.jpg", "green/empty.png"}
    assert "too small" in rejected["red/dot.png"] and "empty file" in rejected["green/empty.png"]
    assert "not an image" in rejected["green/notes.jpg"] and "truncated" in rejected["green/truncated.png"]
    ok = {i.id for i in items if isinstance(i, ImageItem)}
    assert {"red/photo.jpg", "red/huge.jpg"} <= ok and len(ok) == 32


def test_cifar_archive_loader(cifar_archive):
    assert source_modality(cifar_archive) == "image"
    images, labels, names = load_cifar10(cifar_archive, "train")
    assert images.shape == (10, 32, 32, 3) and names == ["red", "green", "stripes"]
    assert images[0, :, :, 0].mean() > 150 and labels[0] == 0  # the first record is a red image
    items = list(iter_items(cifar_archive))
    assert items[0].id == "train/00000" and items[0].label == "red"
    test_images, _, _ = load_cifar10(cifar_archive, "test")
    assert len(test_images) == 2


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR.exists(), reason="shared CIFAR-10 archive not present")
def test_real_cifar_test_split():
    images, labels, names = load_cifar10(SHARED_CIFAR, "test")
    assert images.shape == (10000, 32, 32, 3) and len(names) == 10
    assert np.bincount(labels).tolist() == [1000] * 10


def test_image_collection_search_by_path_pil_and_array(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "p.aer", encoder="pca", dim=8)
    col = retrieval.open(tmp_path / "p.aer", device="cpu")
    assert col.modality == "image" and len(col) == 30 and col.info()["metric"] == "l2"
    query = image_dir / "stripes" / "025.png"
    by_path = col.search(query, k=5)
    by_pil = col.search(Image.open(query), k=5)
    by_array = col.search(np.asarray(Image.open(query)), k=5)
    assert [h.id for h in by_path] == [h.id for h in by_pil] == [h.id for h in by_array]
    assert by_path[0].id == "stripes/025.png" and by_path[0].score == pytest.approx(0, abs=1e-3)
    assert all(h.label == "stripes" for h in by_path)
    np.testing.assert_array_equal(col.pixels(["stripes/025.png"])[0], np.asarray(Image.open(query)))
    with pytest.raises(retrieval.QueryError, match="query image"):
        col.search(tmp_path / "missing.png")


def test_cli_image_query_with_grid(tmp_path, image_dir):
    runner = CliRunner()
    out = runner.invoke(main, ["index", str(image_dir), "--collection", str(tmp_path / "i.aer"), "--dim", "8",
                               "--epochs", "3", "--device", "cpu", "-q"])  # fmt: skip
    assert out.exit_code == 0, out.output
    info = json.loads(runner.invoke(main, ["info", str(tmp_path / "i.aer"), "--json"]).output)
    assert info["encoder"].startswith("conv-ae") and info["items"] == 30
    grid = tmp_path / "results.png"
    out = runner.invoke(main, ["query", str(tmp_path / "i.aer"), "--image", str(image_dir / "red" / "003.png"),
                               "-k", "6", "--grid", str(grid)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "grid saved" in out.output
    with Image.open(grid) as picture:
        assert picture.width > picture.height > 50
    out = runner.invoke(main, ["query", str(tmp_path / "i.aer"), "some words"])
    assert out.exit_code == 1 and "i.aer is an image collection" in out.output and "Traceback" not in out.output
    assert "not text ('some words')" in out.output

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import retrieval
from cli.main import main
from indexers import create_index, unpack_bits
from retrieval.encoders import create_encoder, load_encoder
from retrieval.nn.binary import BinaryCode

from .conftest import FAST_AE, make_images


def test_binary_code_layer_is_exactly_binary_at_inference_and_passes_gradients():
    layer = BinaryCode(noise=1.0)
    z = torch.randn(64, 16, requires_grad=True)
    out = layer.train()(z)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    out.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # straight-through
    assert set(layer.eval()(z).unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(layer.eval()(z).detach().numpy(), (z > 0).float().detach().numpy())


@pytest.mark.parametrize("binarise", ["rotation", "layer"])
def test_text_autoencoder_binary_codes_round_trip_and_group_topics(docs, tmp_path, binarise):
    texts = [t for _, _, t in docs]
    labels = np.array([lab for _, lab, _ in docs])
    enc = create_encoder("ae", **{**FAST_AE, "epochs": 80}, bits=16, binarise=binarise).fit(texts)
    codes = enc.encode(texts)
    assert codes.dtype == np.uint8 and codes.shape == (len(texts), 2)
    assert enc.metric == "hamming" and enc.bits == 16
    assert enc.describe().endswith("binary)" if binarise == "layer" else "-8 → 16 bits by rotation)")
    enc.save(tmp_path / "e")
    np.testing.assert_array_equal(load_encoder(tmp_path / "e", device="cpu").encode(texts), codes)
    bits = unpack_bits(codes, 16).astype(int)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(2) + np.eye(len(bits), dtype=int) * 99
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :3]
    assert (labels[nearest] == labels[:, None]).mean() > 0.7  # chance is 1/3


def test_binary_collection_uses_a_hamming_index(tmp_path, corpus_dir):
    retrieval.index_source(corpus_dir, tmp_path / "b.aer", encoder="ae", bits=16, **{**FAST_AE, "epochs": 80})
    col = retrieval.open(tmp_path / "b.aer", device="cpu")
    info = col.info()
    assert info["bits"] == 16 and "dim" not in info and info["metric"] == "hamming"
    assert "BFlat" in info["index"] and 2 + 8 <= info["bytes_per_item"] <= 2 + 8 + 4
    hits = col.search("shuttle launch orbit rocket booster", k=5)
    assert all(0.0 <= h.score <= 1.0 for h in hits) and hits[0].score >= hits[-1].score
    like = col.search_by_id(hits[0].id, k=3)
    assert hits[0].id not in {h.id for h in like}


def test_image_autoencoder_binary_codes(tmp_path):
    images = np.stack([img for _, img in make_images()])
    enc = create_encoder("conv-ae", bits=24, channels=(8, 16), epochs=2, batch_size=16, progress=False).fit(images)
    codes = enc.encode(images)
    assert codes.shape == (len(images), 3) and codes.dtype == np.uint8
    enc.save(tmp_path / "e")
    np.testing.assert_array_equal(load_encoder(tmp_path / "e", device="cpu").encode(images), codes)


@pytest.mark.slow
def test_cli_bits_option(tmp_path, corpus_dir):
    runner = CliRunner()
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "c.aer"), "--bits", "16",
                               "--hidden", "64,32", "--epochs", "100", "-q"])  # fmt: skip
    assert out.exit_code == 0, out.output
    info = json.loads(runner.invoke(main, ["info", str(tmp_path / "c.aer"), "--json"]).output)
    assert info["bits"] == 16 and info["bytes_per_item"] < 16
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "d.aer"), "--bits", "12"])
    assert out.exit_code == 1 and "multiple of 8" in out.output


def test_bits_is_refused_by_encoders_without_binary_codes():
    with pytest.raises(ValueError, match="no option 'bits'"):
        create_encoder("lsa", bits=64)


def test_pca_sign_bits(tmp_path):
    images = np.stack([img for _, img in make_images()])
    enc = create_encoder("pca", bits=8).fit(images)
    codes = enc.encode(images)
    assert codes.shape == (len(images), 1) and enc.metric == "hamming" and enc.describe() == "pca(sign bits=8)"
    projections = create_encoder("pca", dim=8).fit(images).encode(images)
    np.testing.assert_array_equal(unpack_bits(codes), projections > 0)
    enc.save(tmp_path / "p")
    np.testing.assert_array_equal(load_encoder(tmp_path / "p").encode(images), codes)
    with pytest.raises(ValueError, match="need at least 64 images"):
        create_encoder("pca", bits=64).fit(images)


def test_two_stage_collection_holds_short_and_long_codes(tmp_path, corpus_dir):
    options = {**FAST_AE, "epochs": 80}
    retrieval.index_source(corpus_dir, tmp_path / "t.aer", encoder="ae", bits=32, short_bits=8, radius=3, **options)
    col = retrieval.open(tmp_path / "t.aer", device="cpu")
    info = col.info()
    assert info["bits"] == 32 and info["short_bits"] == 8
    assert "two-stage" in info["index"] and "radius 3" in info["index"]
    # each item: 1 + 4 code bytes, each code length with its own 8-byte key
    assert 1 + 4 + 16 <= info["bytes_per_item"] <= 1 + 4 + 16 + 8
    codes = col.encode(["shuttle launch orbit rocket booster"])
    assert codes.shape == (1, 5) and codes.dtype == np.uint8
    hits = col.search("shuttle launch orbit rocket booster", k=5)
    assert len(hits) == 5 and [h.label for h in hits].count("space") >= 4
    # with a radius covering every short code, two-stage ranking is exhaustive long-code ranking
    col.index.radius = 8
    scores, keys = col.search_codes(codes, k=len(col))
    long_only = create_index("BFlat", 32, "hamming")
    all_keys = np.array(sorted(col.item_labels()))
    long_only.add(all_keys, col.index.long.reconstruct_batch(all_keys))
    np.testing.assert_allclose(scores, long_only.search(codes[:, 1:], len(col))[0])
    assert col.search_by_id(hits[0].id, k=3)[0].id != hits[0].id
    with pytest.raises(retrieval.QueryError, match="vocabulary"):
        col.search("the and of")
    col.close()


def test_two_stage_options_are_checked_before_training(tmp_path, corpus_dir):
    with pytest.raises(ValueError, match="bits"):
        retrieval.index_source(corpus_dir, tmp_path / "x.aer", short_bits=16)
    with pytest.raises(ValueError, match="does not apply"):
        retrieval.index_source(corpus_dir, tmp_path / "x.aer", short_bits=16, bits=64, index="BHash16")
    with pytest.raises(ValueError, match="no option 'bits'"):
        create_encoder("lsa", short_bits=16, bits=64)


@pytest.mark.slow
def test_cli_two_stage_collection(tmp_path, corpus_dir):
    runner = CliRunner()
    args = ["--bits", "16", "--short-bits", "8", "--radius", "1", "--hidden", "64,32", "--epochs", "60", "-q"]
    out = runner.invoke(main, ["index", str(corpus_dir), "-c", str(tmp_path / "c.aer"), *args])
    assert out.exit_code == 0, out.output
    info = json.loads(runner.invoke(main, ["info", str(tmp_path / "c.aer"), "--json"]).output)
    assert info["short_bits"] == 8 and info["bits"] == 16 and "radius 1" in info["index"]
    out = runner.invoke(main, ["query", str(tmp_path / "c.aer"), "doctor patient drug", "-k", "3", "--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)) == 3


@pytest.mark.slow
def test_embedding_autoencoder_binary_codes_group_topics(docs, tmp_path):
    texts = [t for _, _, t in docs]
    labels = np.array([lab for _, lab, _ in docs])
    enc = create_encoder("minilm-ae", bits=16, epochs=60, batch_size=16, progress=False).fit(texts)
    codes = enc.encode(texts)
    assert codes.shape == (len(texts), 2) and enc.metric == "hamming" and enc.describe().endswith("binary)")
    enc.save(tmp_path / "m")
    np.testing.assert_array_equal(load_encoder(tmp_path / "m", device="cpu").encode(texts), codes)
    bits = unpack_bits(codes, 16).astype(int)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(2) + np.eye(len(bits), dtype=int) * 99
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :3]
    assert (labels[nearest] == labels[:, None]).mean() > 0.7  # chance is 1/3

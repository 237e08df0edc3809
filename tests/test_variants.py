"""The autoencoder family: each variant trains, encodes, saves, reopens, and does what it is for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.encoders import create_encoder, load_encoder
from retrieval.nn.dense import DenseAutoencoder
from retrieval.nn.regularizers import contractive_penalty
from retrieval.nn.vq import VectorQuantizer

from .conftest import FAST_AE, make_images

IMAGES = np.stack([img for _, img in make_images()])
SMALL = {"dim": 8, "epochs": 3, "batch_size": 16, "progress": False}
CONV = {**SMALL, "channels": (8, 16)}
DENSE = {**SMALL, "hidden": (64, 32)}
LONG = {**DENSE, "epochs": 20, "contrastive": 0.0}

VARIANTS = [
    ("conv-ae", {**CONV, "mask": 0.3, "input_noise": 0.1}),  # denoising
    ("conv-ae", {**CONV, "contractive": 0.1}),
    ("conv-ae", {**CONV, "sparse": 0.1}),
    ("conv-ae", {**CONV, "code_l2": 0.1}),
    ("conv-ae", {**CONV, "codebook": 16, "segments": 4}),
    ("dense-ae", {**DENSE, "tied": True}),
    ("dense-ae", {**DENSE, "pretrain_epochs": 2}),
    ("dense-ae", {**DENSE, "codebook": 8, "segments": 2, "contrastive": 0.0}),
]


@pytest.mark.parametrize("name, options", VARIANTS, ids=lambda v: str(v) if isinstance(v, str) else "-")
def test_image_variants_round_trip(name, options, tmp_path):
    enc = create_encoder(name, **options).fit(IMAGES)
    codes = enc.encode(IMAGES)
    assert codes.shape == (len(IMAGES), 8) and np.isfinite(codes).all()
    enc.save(tmp_path / "e")
    again = load_encoder(tmp_path / "e", device="cpu")
    np.testing.assert_allclose(again.encode(IMAGES), codes, rtol=1e-5, atol=1e-6)
    errors = again.reconstruction_error(IMAGES)
    assert errors.shape == (len(IMAGES),) and (errors > 0).all()
    assert again.reconstruct(IMAGES[:2]).shape == (2, 32, 32, 3)


@pytest.mark.parametrize("options", [{"sparse": 0.01}, {"code_l2": 0.01}, {"contractive": 0.01}, {"tied": True},
                                     {"pretrain_epochs": 2}, {"input_noise": 0.05}])  # fmt: skip
def test_text_variants_round_trip(options, docs, tmp_path):
    texts = [t for _, _, t in docs]
    enc = create_encoder("ae", **FAST_AE, **options).fit(texts)
    enc.save(tmp_path / "e")
    np.testing.assert_allclose(load_encoder(tmp_path / "e", device="cpu").encode(texts), enc.encode(texts), atol=1e-6)


def test_tied_decoder_has_only_biases_of_its_own():
    tied = DenseAutoencoder(100, (50,), 10, norm=False, tied=True)
    free = DenseAutoencoder(100, (50,), 10, norm=False)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(tied.decoder) == 50 + 100 and n(free.decoder) > 50 * 10 + 100 * 50
    x = torch.randn(4, 100)
    assert tied(x)[1].shape == (4, 100)
    assert torch.equal(tied.decoder[0]._tied[0].weight, tied.encoder[-2].weight)  # the code layer


def test_sparse_and_l2_penalties_shrink_the_code():
    plain = create_encoder("dense-ae", **LONG).fit(IMAGES).encode(IMAGES)
    sparse = create_encoder("dense-ae", **LONG, sparse=5.0).fit(IMAGES).encode(IMAGES)
    l2 = create_encoder("dense-ae", **LONG, code_l2=5.0).fit(IMAGES).encode(IMAGES)
    assert np.abs(sparse).mean() < 0.5 * np.abs(plain).mean()
    assert (l2**2).mean() < 0.5 * (plain**2).mean()


@pytest.mark.slow
def test_contractive_penalty_is_the_jacobian_norm_and_training_lowers_it():
    lin = torch.nn.Linear(5, 3)
    torch.manual_seed(0)
    estimates = torch.stack([contractive_penalty(lin, torch.randn(1, 5)) for _ in range(4000)])
    assert estimates.mean().item() == pytest.approx(lin.weight.pow(2).sum().item(), rel=0.1)  # ||W||_F^2

    def jacobian_norm(enc) -> float:
        x = enc._shape_in(enc._standardise(enc._unit(IMAGES, torch.device("cpu"))))  # what training sees
        torch.manual_seed(1)
        return float(np.mean([contractive_penalty(enc.model_.encoder, x).item() for _ in range(20)]))

    plain = create_encoder("dense-ae", **LONG).fit(IMAGES)
    contr = create_encoder("dense-ae", **LONG, contractive=1.0).fit(IMAGES)
    assert jacobian_norm(contr) < 0.9 * jacobian_norm(plain)


def test_vq_codes_are_codebook_entries():
    vq = VectorQuantizer(dim=8, size=4, segments=2)
    z = torch.randn(10, 8)
    q, loss = vq(z)
    idx = vq.indices(z)
    assert idx.shape == (10, 2) and int(idx.max()) < 4 and loss.item() > 0
    torch.testing.assert_close(q, vq.lookup(idx))
    enc = create_encoder("conv-ae", **CONV, codebook=4, segments=2).fit(IMAGES)
    codes = enc.encode(IMAGES) + enc.code_mean_  # encode centres codes; the codewords are what the decoder sees
    for seg in np.split(codes, 2, axis=1):
        assert len(np.unique(seg.round(5), axis=0)) <= 4
    with pytest.raises(ValueError, match="not both"):
        create_encoder("conv-ae", bits=16, codebook=4)

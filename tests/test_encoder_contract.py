"""The contract every registered encoder keeps, checked on each with options that train in a blink."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from retrieval.encoders import REGISTERED, create_encoder, load_encoder
from retrieval.errors import NotFittedError, QueryError

from . import fakes  # noqa: F401  (registers fake-text and fake-image)
from .conftest import FAST_AE, make_docs, make_images

TEXTS = [t for _, _, t in make_docs(per_topic=6)]
IMAGES = np.stack([img for _, img in make_images(per_class=4)])
SMALL_AE = {**FAST_AE, "epochs": 5}
SMALL_IMAGE = {"dim": 8, "epochs": 1, "batch_size": 16, "progress": False}
HAS_MINILM = importlib.util.find_spec("sentence_transformers") is not None
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason="sentence-transformers is not installed")

# (encoder name, options); two-stage encoders come from short_bits. Every registered name must appear.
CASES = {
    "ae": ("ae", SMALL_AE),
    "ae-bits": ("ae", {**SMALL_AE, "bits": 16}),
    "lsa": ("lsa", {"dim": 4}),
    "tfidf": ("tfidf", {}),
    "minilm": pytest.param(("minilm", {"progress": False}), marks=needs_minilm),
    "minilm-ae-bits": pytest.param(("minilm-ae", {"bits": 16, "epochs": 2, "progress": False}),
                                   marks=[needs_minilm, pytest.mark.slow]),  # fmt: skip
    "conv-ae": ("conv-ae", {**SMALL_IMAGE, "channels": (4, 8)}),
    "dense-ae-bits": ("dense-ae", {**SMALL_IMAGE, "hidden": (32,), "bits": 16}),
    "pca": ("pca", {"dim": 4}),
    "pca-bits": ("pca", {"bits": 8}),
    "pixels": ("pixels", {}),
    "two-stage-ae": ("ae", {**SMALL_AE, "short_bits": 8, "bits": 16}),
    "two-stage-fake": ("fake-text", {"short_bits": 8, "bits": 24}),
    "fake-text": ("fake-text", {"dim": 12}),
    "fake-text-bits": ("fake-text", {"bits": 32}),
    "fake-image": ("fake-image", {"dim": 6}),
    "fake-image-bits": ("fake-image", {"bits": 16}),
}
BAD_QUERIES = {
    "text": [("", "empty query"), ("   ", "empty query"), (3, "query 3 is a int"), (None, "query None"),
             ("the and of", "vocabulary")],
    "image": [("no/such/picture.png", "query image no/such/picture.png"), (3, "query image int"),
              (np.zeros((4, 4, 3), np.uint8), "query image ndarray")],
}  # fmt: skip


def _case(param):
    return param.values[0] if hasattr(param, "values") else param


def _new(case):
    name, options = case
    return create_encoder(name, **{"device": "cpu", **options})


def _items(encoder):
    return TEXTS if encoder.modality == "text" else IMAGES


@pytest.fixture(scope="module", params=list(CASES.values()), ids=list(CASES))
def case(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(case):
    encoder = _new(case)
    assert encoder.fit(_items(encoder)) is encoder
    return encoder


def test_every_registered_encoder_has_a_case():
    covered = {_case(c)[0] for c in CASES.values()} | {"two-stage"}
    assert set(REGISTERED) <= covered, f"add contract options for {sorted(set(REGISTERED) - covered)}"


def test_codes_have_the_advertised_shape_dtype_and_metric(fitted):
    codes = fitted.encode(_items(fitted))
    n = len(_items(fitted))
    if fitted.bits:
        assert fitted.metric == "hamming" and codes.dtype == np.uint8 and codes.shape == (n, fitted.dim // 8)
    else:
        assert fitted.metric in ("cosine", "l2") and codes.dtype == np.float32 and codes.shape == (n, fitted.dim)
        assert np.isfinite(codes).all()
    assert (fitted.short_bits is not None) == (fitted.name == "two-stage")
    if fitted.short_bits:
        assert fitted.dim == fitted.short_bits + fitted.bits
    assert fitted.modality in ("text", "image") and fitted.describe().startswith(fitted.name)


def test_save_and_load_give_the_same_codes_and_config(fitted, tmp_path):
    items = _items(fitted)
    fitted.save(tmp_path / "e")
    saved = json.loads((tmp_path / "e" / "config.json").read_text())["config"]
    assert not {"device", "progress"} & set(saved)  # runtime options are never saved
    again = load_encoder(tmp_path / "e", device="cpu", progress=False)
    assert type(again) is type(fitted) and again.get_config() == fitted.get_config() == saved
    assert (again.dim, again.bits, again.short_bits, again.metric) == (
        fitted.dim, fitted.bits, fitted.short_bits, fitted.metric
    )  # fmt: skip
    np.testing.assert_allclose(again.encode(items), fitted.encode(items), rtol=1e-6, atol=1e-6)


def test_config_rebuilds_an_equal_unfitted_encoder(fitted):
    clone = type(fitted)(**fitted.get_config())
    assert clone.get_config() == fitted.get_config()
    with pytest.raises(NotFittedError):
        clone.encode(_items(fitted)[:2])


def test_unfitted_encoder_refuses_to_encode(case):
    encoder = _new(case)
    items = _items(encoder)[:2]
    for use in (encoder.encode, encoder.encode_with_errors, encoder.reconstruction_error, encoder.encode_queries):
        with pytest.raises(NotFittedError, match="not fitted"):
            use(items)
    with pytest.raises(NotFittedError):
        encoder.save("never-written")


def test_encode_with_errors_is_encode_and_reconstruction_error(fitted):
    items = _items(fitted)
    codes, errors = fitted.encode_with_errors(items)
    np.testing.assert_array_equal(codes, fitted.encode(items))
    alone = fitted.reconstruction_error(items)
    if errors is None:
        assert alone is None
    else:
        assert errors.shape == (len(items),) and errors.dtype == np.float32 and np.isfinite(errors).all()
        np.testing.assert_array_equal(errors, alone)
        assert errors.std() > 0  # a per-item score, not a constant


def test_queries_encode_like_items(fitted):
    items = _items(fitted)[:5]
    queries = list(items) if fitted.modality == "text" else [img for img in items]
    np.testing.assert_allclose(fitted.encode_queries(queries), fitted.encode(items), rtol=1e-6, atol=1e-6)


def test_bad_queries_raise_query_error_naming_them(fitted):
    for query, message in BAD_QUERIES[fitted.modality]:
        if fitted.name in ("minilm", "minilm-ae") and message == "vocabulary":
            continue  # MiniLM has no vocabulary: stop-words still embed
        good = _items(fitted)[0]
        with pytest.raises(QueryError, match=message):
            fitted.encode_queries([good, query])

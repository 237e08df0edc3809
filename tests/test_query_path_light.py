"""The NumPy query side of saved text encoders (``retrieval.encoders.text_query``, issue 29): the codes and the
query errors of the full encoder's ``encode_queries``, and ``aer query`` on a text collection without torch or
scikit-learn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import retrieval
from retrieval import Collection, Document, QueryError
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders import text_autoencoder as text_autoencoder_module
from retrieval.encoders.teacher import TeacherSignal
from retrieval.encoders.text_query import TextQueries, TwoStageQueries, load_query_encoder

from .conftest import FAST_AE, build_once, make_docs

LIGHT_AE = {**FAST_AE, "decoder": False}  # as `aer index` saves by default: int8 tables, float16 elsewhere, no decoder
ENCODERS = {
    "floats": ("ae", LIGHT_AE),
    "floats-float32-decoder": ("ae", {**FAST_AE, "weights": "float32", "decoder": True}),
    "floats-tied-float16": ("ae", {**LIGHT_AE, "tied": True, "weights": "float16", "decoder": True}),
    "rotation-bits": ("ae", {**LIGHT_AE, "bits": 16}),
    "rotation-bits-float32": ("ae", {**FAST_AE, "bits": 32, "float_dim": 8, "weights": "float32"}),
    "layer-bits": ("ae", {**LIGHT_AE, "bits": 16, "binarise": "layer"}),
    "two-stage": ("ae", {**LIGHT_AE, "short_bits": 8, "bits": 16}),  # one network, two rotations
    "two-stage-layer": ("ae", {**LIGHT_AE, "short_bits": 8, "bits": 16, "binarise": "layer", "epochs": 10}),
    "word-vectors": ("ae", {**LIGHT_AE, "teacher": "minilm"}),  # a fake teacher's word vectors (below)
    "tfidf": ("tfidf", {}),
    "lsa": ("lsa", {"dim": 6}),
}
QUERIES = ["orbit shuttle launch", "doctor patient therapy", "Engine CAR brake, tire; dealer!", "rocket",
           "orbit orbit nasa unheardofword", "people think"]  # fmt: skip
BAD_QUERIES = [[""], ["   "], ["unheardofword anotherone"], ["orbit", "the and of"], [42], ["orbit", None]]


def fake_teach(items, vocabulary, *args, **kwargs) -> TeacherSignal:
    """A teacher without MiniLM: seeded unit vectors for the words and the texts."""
    rng = np.random.default_rng(0)
    words = rng.normal(size=(len(vocabulary), 12)).astype(np.float32)
    texts = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(len(items), 12)).astype(np.float32)))
    return TeacherSignal(np.arange(len(items)), texts, words / np.linalg.norm(words, axis=1, keepdims=True), 0.0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Each encoder of ``ENCODERS`` fitted on the toy corpus and saved in a folder of its own."""
    texts = [t for _, _, t in make_docs()]
    root = tmp_path_factory.mktemp("encoders")
    folders = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_autoencoder_module, "teach", fake_teach)
        for case, (name, options) in ENCODERS.items():
            create_encoder(name, **options).fit(texts).save(root / case)
            folders[case] = root / case
    return folders


@pytest.mark.parametrize("case", list(ENCODERS))
def test_the_query_side_gives_the_full_encoders_codes(saved, case):
    full = load_encoder(saved[case], device="cpu", progress=False)
    light = load_query_encoder(saved[case])
    assert isinstance(light, TwoStageQueries if full.name == "two-stage" else TextQueries)
    assert (light.modality, light.metric, light.dim, light.bits, light.short_bits) == (
        full.modality, full.metric, full.dim, full.bits, full.short_bits)  # fmt: skip
    want, got = full.encode_queries(QUERIES), light.encode_queries(QUERIES)
    assert got.dtype == want.dtype and got.shape == want.shape
    if full.bits:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    if case == "word-vectors":
        assert full.word_vectors_ is not None  # the first layer's teacher-feature part is in the codes


@pytest.mark.parametrize("case", ["floats", "layer-bits", "two-stage", "tfidf"])
@pytest.mark.parametrize("queries", BAD_QUERIES, ids=repr)
def test_the_query_side_refuses_a_query_as_the_encoder_does(saved, case, queries):
    full = load_encoder(saved[case], device="cpu", progress=False)
    with pytest.raises(QueryError) as want:
        full.encode_queries(queries)
    with pytest.raises(QueryError) as got:
        load_query_encoder(saved[case]).encode_queries(queries)
    assert str(got.value) == str(want.value)


def test_encoders_without_a_query_side_and_damaged_files_load_the_full_encoder(saved, tmp_path):
    fake = tmp_path / "fake"
    create_encoder("fake-text", dim=8).fit([t for _, _, t in make_docs()]).save(fake)
    assert load_query_encoder(fake) is None
    assert load_query_encoder(tmp_path / "nothing") is None
    bad = Path(shutil.copytree(saved["floats"], tmp_path / "bad"))
    config = json.loads((bad / "config.json").read_text())
    config["config"]["hidden"] = [64, 31]  # the saved layers do not make this network
    (bad / "config.json").write_text(json.dumps(config))
    assert load_query_encoder(bad) is None


@pytest.fixture(scope="module")
def collections(tmp_path_factory, docs) -> dict[str, Path]:
    """Text collections of the ``ae`` kinds the query side takes."""
    cases = ("floats", "floats-float32-decoder", "rotation-bits", "layer-bits", "two-stage")
    return {case: build_once(tmp_path_factory, docs, encoder="ae", **ENCODERS[case][1]) for case in cases}


@pytest.mark.parametrize("case", ["floats", "rotation-bits", "two-stage"])
def test_a_collection_opened_for_queries_searches_as_the_full_one(collections, case):
    path = collections[case]
    queries = ["orbit shuttle launch", "doctor patient"]
    with Collection.open(path, device="cpu") as full, retrieval.open(path, device="cpu", for_queries=True) as col:
        assert not isinstance(full._queries, (TextQueries, TwoStageQueries))
        assert isinstance(col._queries, (TextQueries, TwoStageQueries)) and col._encoder is None
        assert col.modality == "text" and len(col) == len(full)
        assert [h.id for h in col.search(queries[0], k=5)] == [h.id for h in full.search(queries[0], k=5)]
        np.testing.assert_array_equal(col.encode(queries), full.encode(queries))
        assert col.encoder.name == full.encoder.name  # loaded on first use


def test_a_collection_opened_for_queries_loads_its_encoder_to_add(tmp_path, collections):
    path = Path(shutil.copytree(collections["floats-float32-decoder"], tmp_path / "c.aer"))
    with Collection.open(path, device="cpu", for_queries=True) as col:
        report = col.add([Document(id="new", text="orbit shuttle launch nasa moon")])
        assert report.added == 1 and set(report.outlier_scores) == {"new"}  # the decoder's reconstruction score
        assert col._encoder is not None and col.search("orbit shuttle launch nasa moon", k=1)[0].id == "new"


def test_a_plain_open_or_a_cuda_device_loads_the_full_encoder(collections):
    with Collection.open(collections["floats"], device="cpu") as col:
        assert col._encoder is not None and col._queries is col._encoder
    if torch.cuda.is_available():
        with Collection.open(collections["floats"], device="cuda", for_queries=True) as col:
            assert col._encoder is not None and col._queries is col._encoder
    else:  # the full encoder's loader asks torch for the GPU
        with pytest.raises(retrieval.DeviceError, match="torch sees no CUDA GPU"):
            Collection.open(collections["floats"], device="cuda", for_queries=True)
    with pytest.raises(retrieval.DeviceError, match="The 'device' parameter"):
        Collection.open(collections["floats"], device="gpu", for_queries=True)


def test_aer_query_loads_neither_torch_nor_scikit_learn(collections):
    """Every kind of text ``ae`` collection, queried in one fresh interpreter the way the ``aer`` script runs."""
    run = (
        "import json, sys\n"
        "import cli.main\n"
        f"for path in {[str(p) for p in collections.values()]!r}:\n"
        "    print('QUERY', path)\n"
        "    cli.main.main(['query', path, 'orbit shuttle launch', '-k', '3'], standalone_mode=False)\n"
        "heavy = ('torch', 'sklearn', 'sentence_transformers', 'transformers')\n"
        "print(json.dumps({'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))  # fmt: skip
    assert out.returncode == 0, out.stderr
    *printed, loaded = out.stdout.strip().splitlines()
    assert json.loads(loaded) == {"loaded": []}
    answers = "\n".join(printed).split("QUERY ")[1:]
    assert len(answers) == len(collections)
    for path, answer in zip(collections.values(), answers):  # the path, then per hit a rank line and a snippet
        ranked = [line.split() for line in answer.splitlines()[1:] if line.split()[0].isdigit()]
        with Collection.open(path, device="cpu") as full:  # the full encoder's hits, in this process
            assert [r[2] for r in ranked] == [h.id for h in full.search("orbit shuttle launch", k=3)], answer

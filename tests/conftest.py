"""Small data the tests make themselves: a seeded three-topic corpus, as a folder, JSONL and a 20NG-style archive."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from . import fakes  # noqa: F401  (registers the fake encoders)

torch.set_num_threads(1)  # tiny models: threads only add overhead

# A test that uses one of these fixtures gets its marker, so `make test` leaves it out (pyproject.toml: markers).
FIXTURE_MARKERS = {"postgres_server_url": "postgres", "local_ray": "ray"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)

TOPICS = {
    "space": "orbit shuttle launch rocket nasa moon satellite astronaut payload mission booster lunar".split(),
    "autos": "engine car brake tire dealer gearbox clutch sedan mileage oil wheel transmission".split(),
    "medicine": "doctor patient disease symptom treatment drug clinic infection diet vitamin cancer therapy".split(),
}
COMMON = "people think really good time know like way make said work years".split()
# Options that make the autoencoder train in well under a second on the toy corpus.
# no teacher: the sentence transformer would make every small test pay for loading and running it
FAST_AE = {
    "hidden": (64, 32),
    "dim": 8,
    "epochs": 40,
    "min_steps": 0,
    "batch_size": 16,
    "lr": 3e-3,
    "teacher": "none",
    "decoder": True,  # the tests of reconstruction scores need it; the default drops it (tests/test_compact.py)
    "progress": False,
}


def cli_args(options: dict[str, object]) -> list[str]:
    """Encoder ``options`` as ``aer index`` flags: ``--hidden/--dim/--epochs`` where they have one, ``-q`` for no
    progress, ``-o KEY=VALUE`` for the rest."""
    args: list[str] = []
    for key, value in options.items():
        text = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value).lower()
        if key == "progress":
            args += [] if value else ["-q"]
        elif key in ("hidden", "dim", "epochs"):
            args += [f"--{key}", text]
        else:
            args += ["-o", f"{key}={text}"]
    return args


# FAST_AE for the command line: the same network, budget and (no) teacher.
FAST_AE_ARGS = cli_args(FAST_AE)

# A deterministic encoder that needs no training (tests/fakes.py): for tests of collections, not of models.
FAKE = {"encoder": "fake-text", "dim": 32}


def make_docs(per_topic: int = 12, seed: int = 0) -> list[tuple[str, str, str]]:
    """``(id, label, text)`` triples: each text mixes its topic's words with common words."""
    rng = np.random.default_rng(seed)
    docs = []
    for label, words in TOPICS.items():
        for i in range(per_topic):
            body = list(rng.choice(words, size=25)) + list(rng.choice(COMMON, size=10))
            rng.shuffle(body)
            docs.append((f"{label}-{i:02d}", label, " ".join(body)))
    return docs


@pytest.fixture(scope="session")
def docs() -> list[tuple[str, str, str]]:
    return make_docs()


def write_corpus(root: Path, docs: list[tuple[str, str, str]]) -> Path:
    """``<label>/<id>.txt`` per document under ``root``."""
    for item_id, label, text in docs:
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{item_id}.txt").write_text(text)
    return root


@pytest.fixture
def corpus_dir(tmp_path: Path, docs) -> Path:
    """A folder: ``<label>/<id>.txt`` per document."""
    return write_corpus(tmp_path / "corpus", docs)


def build_once(tmp_path_factory, docs: list[tuple[str, str, str]], **options) -> Path:
    """``docs`` written as a folder and indexed with ``options`` into a collection of a fresh temp dir."""
    import retrieval

    root = tmp_path_factory.mktemp("built")
    retrieval.index_source(write_corpus(root / "corpus", docs), root / "c.aer", **options)
    return root / "c.aer"


@pytest.fixture(scope="session")
def built_text(tmp_path_factory, docs) -> Path:
    """The 36-document corpus indexed once per session with the fake encoder (read it, never change it)."""
    return build_once(tmp_path_factory, docs, **FAKE)


@pytest.fixture
def text_collection(tmp_path: Path, built_text: Path) -> Path:
    """A private copy of ``built_text``, free to change."""
    return Path(shutil.copytree(built_text, tmp_path / "c.aer"))


@pytest.fixture
def corpus_jsonl(tmp_path: Path, docs) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, lab, t in docs))
    return path


def make_wide_docs(per_topic: int = 20, seed: int = 0) -> list[tuple[str, str, str]]:
    """Like ``make_docs``, with 25 words per topic and 10 shared ones: a vocabulary LSA-50 can be fitted on."""
    rng = np.random.default_rng(seed)
    shared = [f"common{i}" for i in range(10)]
    docs = []
    for label in TOPICS:
        words = [f"{label}{i}" for i in range(25)]
        for i in range(per_topic):
            docs.append((f"{label}-{i:02d}", label, " ".join([*rng.choice(words, 20), *rng.choice(shared, 8)])))
    return docs


@pytest.fixture
def newsgroups_archive(tmp_path: Path, docs) -> Path:
    """A tiny archive in the 20 Newsgroups by-date layout (train: first 8 per topic, test: the rest)."""
    return write_newsgroups_archive(tmp_path / "20news-bydate.tar.gz", docs, train_per_topic=8)


def write_newsgroups_archive(path: Path, docs: list[tuple[str, str, str]], train_per_topic: int) -> Path:
    """``docs`` (ids ending in their number within the topic) in the by-date layout: the first
    ``train_per_topic`` of each topic in the train split, the rest in the test split."""
    with tarfile.open(path, "w:gz") as tar:
        for n, (item_id, label, text) in enumerate(docs):
            split = "train" if int(item_id[-2:]) < train_per_topic else "test"
            data = f"From: someone@example.org\nSubject: {label}\n\n{text}\n".encode("latin-1")
            info = tarfile.TarInfo(f"20news-bydate-{split}/{label}/{1000 + n}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_images(per_class: int = 10, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``(label, 32x32x3 uint8)`` pairs from three visually distinct classes, with noise."""
    rng = np.random.default_rng(seed)
    out = []
    for label in ("red", "green", "stripes"):
        for _ in range(per_class):
            img = rng.integers(0, 60, size=(32, 32, 3)).astype(np.int16)
            if label == "red":
                img[..., 0] += 180
            elif label == "green":
                img[..., 1] += 180
            else:
                img[::4] += 190
            out.append((label, np.clip(img, 0, 255).astype(np.uint8)))
    return out


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A folder ``<label>/<n>.png`` of the synthetic images."""
    from PIL import Image

    root = tmp_path / "photos"
    for n, (label, img) in enumerate(make_images()):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / label / f"{n:03d}.png")
    return root


def write_cifar_archive(path: Path, train: list, test: list, names: list[str]) -> Path:
    """A CIFAR-10 binary archive in the canonical layout: ``train`` spread over the 5 data batches."""
    with tarfile.open(path, "w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        def records(pairs: list) -> bytes:
            return b"".join(bytes([names.index(lab)]) + img.transpose(2, 0, 1).tobytes() for lab, img in pairs)

        add("batches.meta.txt", ("\n".join(names) + "\n").encode())
        per = -(-len(train) // 5)
        for b in range(5):
            add(f"data_batch_{b + 1}.bin", records(train[b * per : (b + 1) * per]))
        add("test_batch.bin", records(test))
    return path


@pytest.fixture
def cifar_archive(tmp_path: Path) -> Path:
    """A CIFAR-10 binary archive in the canonical layout, with the synthetic images as records."""
    images = make_images(per_class=4)
    return write_cifar_archive(
        tmp_path / "cifar-10-binary.tar.gz", images[:10], images[10:], ["red", "green", "stripes"]
    )


@pytest.fixture(scope="session")
def postgres_server_url():
    """A real PostgreSQL server for the session (see tests/pg_server.py); skipped only without its binaries."""
    import os

    from .pg_server import postgres_server

    if os.environ.get("AER_TEST_POSTGRES_URL"):
        yield os.environ["AER_TEST_POSTGRES_URL"].rstrip("/")
        return
    try:
        server = postgres_server()
        url = server.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc} (install Debian's postgresql package)")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server_url, request) -> str:
    """A new, empty database on the test server; its URL."""
    import re

    from sqlalchemy import create_engine, text

    name = "aer_" + re.sub(r"\W", "_", request.node.name)[:50].lower()
    admin = create_engine(f"{postgres_server_url}/postgres".replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{postgres_server_url}/{name}"

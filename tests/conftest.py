"""Small data the tests make themselves: a seeded three-topic corpus, as a folder, JSONL and a 20NG-style archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # tiny models: threads only add overhead

TOPICS = {
    "space": "orbit shuttle launch rocket nasa moon satellite astronaut payload mission booster lunar".split(),
    "autos": "engine car brake tire dealer gearbox clutch sedan mileage oil wheel transmission".split(),
    "medicine": "doctor patient disease symptom treatment drug clinic infection diet vitamin cancer therapy".split(),
}
COMMON = "people think really good time know like way make said work years".split()
# Options that make the autoencoder train in well under a second on the toy corpus.
FAST_AE = {"hidden": (64, 32), "dim": 8, "epochs": 40, "batch_size": 16, "lr": 3e-3, "progress": False}


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


@pytest.fixture
def corpus_dir(tmp_path: Path, docs) -> Path:
    """A folder: ``<label>/<id>.txt`` per document."""
    root = tmp_path / "corpus"
    for item_id, label, text in docs:
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{item_id}.txt").write_text(text)
    return root


@pytest.fixture
def corpus_jsonl(tmp_path: Path, docs) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, lab, t in docs))
    return path


@pytest.fixture
def newsgroups_archive(tmp_path: Path, docs) -> Path:
    """A tiny archive in the 20 Newsgroups by-date layout (train: first 8 per topic, test: the rest)."""
    path = tmp_path / "20news-bydate.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for n, (item_id, label, text) in enumerate(docs):
            split = "train" if int(item_id[-2:]) < 8 else "test"
            data = f"From: someone@example.org\nSubject: {label}\n\n{text}\n".encode("latin-1")
            info = tarfile.TarInfo(f"20news-bydate-{split}/{label}/{1000 + n}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path

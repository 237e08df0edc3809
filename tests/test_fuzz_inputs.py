"""Fuzzed inputs: every source reader, ``collection.json`` and an encoder's ``config.json``.

Whatever the bytes, a reader yields items or ``Rejected`` items naming the file (or raises ``SourceError``
naming the source), and opening a collection or loading an encoder either works or raises a
``RetrievalError`` with a message, never another exception. Reproducible: derandomised, no example database.
"""

from __future__ import annotations

import io
import json
import shutil
import string
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import retrieval
from retrieval.collection.directory import ENCODER_DIR, MANIFEST
from retrieval.encoders import load_encoder
from retrieval.errors import RetrievalError, SourceError
from retrieval.sources import Document, ImageItem, Rejected, iter_items

FUZZ = settings(
    max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
NAMES = st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _read_all(source: Path) -> list[Any]:
    """Everything ``iter_items`` yields for ``source``; only a ``SourceError`` naming it may stop it."""
    out: list[Any] = []
    try:
        for item in iter_items(source):
            out.append(item)
    except SourceError as exc:
        assert source.name in str(exc)
    for item in out:
        assert isinstance(item, (Document, ImageItem, Rejected)), item
        if isinstance(item, Rejected):
            assert item.id and item.reason
    return out


def _flipped(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    damaged = bytearray(data)
    for at, mask in flips:
        if damaged:
            damaged[at % len(damaged)] ^= mask
    return bytes(damaged[:cut] if cut is not None else damaged)


FLIPS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=6)
CUTS = st.none() | st.integers(0, 4000)


# --- source readers ------------------------------------------------------------------------


@pytest.mark.slow
@FUZZ
@given(files=st.dictionaries(NAMES, st.binary(max_size=300), min_size=1, max_size=6))
def test_a_text_folder_of_arbitrary_bytes_reads_or_rejects_each_file(files):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "texts"
        for name, data in files.items():
            (root / "label").mkdir(parents=True, exist_ok=True)
            (root / "label" / f"{name}.txt").write_bytes(data)
        items = _read_all(root)
        assert sorted(i.id for i in items) == sorted(f"label/{n}.txt" for n in files)  # each file once, by name
        assert all(i.text.strip() for i in items if isinstance(i, Document))


LINE = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), JSON),
    st.builds(lambda i, t: json.dumps({"id": i, "text": t}).encode(), JSON, JSON),
    st.builds(lambda i, t, lab: json.dumps({"id": i, "text": t, "label": lab}).encode(), NAMES, st.text(), JSON),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),  # nesting deeper than the parser's recursion limit
    st.integers(4300, 6000).map(lambda n: b'{"id": ' + b"9" * n + b', "text": "huge id"}'),  # int-string limit
    st.just(b'{"id": "dup", "text": "same id twice"}'),
)


@FUZZ
@given(lines=st.lists(LINE, min_size=1, max_size=8))
def test_a_jsonl_file_of_malformed_lines_reads_or_rejects_each_line(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        items = _read_all(path)
        assert all(i.id.startswith("corpus.jsonl:") for i in items if isinstance(i, Rejected))
        assert len(items) <= len(lines)


def _image_bytes(fmt: str, size: tuple[int, int], mode: str) -> bytes:
    rng = np.random.default_rng(size[0] * 31 + size[1])
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)).convert(mode)
    out = io.BytesIO()
    (image.convert("RGB") if fmt == "JPEG" else image).save(out, format=fmt)
    return out.getvalue()


IMAGE = st.one_of(
    st.binary(max_size=400),
    st.builds(
        _flipped,
        st.builds(
            _image_bytes,
            st.sampled_from(["PNG", "GIF", "BMP", "TIFF", "JPEG", "WEBP", "PPM"]),
            st.tuples(st.integers(1, 48), st.integers(1, 48)),
            st.sampled_from(["RGB", "RGBA", "L"]),
        ),
        FLIPS,
        CUTS,
    ),
)


@FUZZ
@given(images=st.lists(IMAGE, min_size=1, max_size=5))
def test_an_image_folder_of_damaged_or_random_files_reads_or_rejects_each_file(images):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        root.mkdir()
        for n, data in enumerate(images):
            (root / f"{n}.png").write_bytes(data)
        items = _read_all(root)
        assert sorted(i.id for i in items) == sorted(f"{n}.png" for n in range(len(images)))
        assert all(i.pixels.shape == (32, 32, 3) for i in items if isinstance(i, ImageItem))


def _tar(members: dict[str, bytes], compression: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=f"w:{compression}") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _newsgroups(bodies: list[bytes], compression: str) -> bytes:
    return _tar({f"20news-bydate-train/sci.space/{1000 + n}": b for n, b in enumerate(bodies)}, compression)


def _cifar(meta: bytes, record_bytes: int, compression: str) -> bytes:
    batches = {f"cifar-10-batches-bin/data_batch_{i}.bin": bytes(record_bytes) for i in range(1, 6)}
    return _tar({"cifar-10-batches-bin/batches.meta.txt": meta, **batches}, compression)


ARCHIVE = st.one_of(
    st.builds(_newsgroups, st.lists(st.binary(max_size=120), min_size=1, max_size=4), st.sampled_from(["", "gz"])),
    st.builds(_cifar, st.binary(max_size=40), st.sampled_from([0, 3073, 3074, 6146]), st.sampled_from(["", "gz"])),
)


@FUZZ
@given(archive=ARCHIVE, flips=FLIPS, cut=CUTS)
def test_a_damaged_archive_reads_rejects_or_is_a_source_error(archive, flips, cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.tar.gz"
        path.write_bytes(_flipped(archive, flips, cut))
        try:
            items = _read_all(path)
        except SourceError as exc:  # not recognised as any source at all
            assert path.name in str(exc)
            return
        assert all(isinstance(i, (Document, ImageItem, Rejected)) for i in items)


@FUZZ
@given(meta=st.binary(max_size=60), batch=st.binary(max_size=7000))
def test_a_cifar_folder_with_damaged_files_is_a_source_error_or_reads(meta, batch):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cifar"
        root.mkdir()
        (root / "batches.meta.txt").write_bytes(meta)
        for i in range(1, 6):
            (root / f"data_batch_{i}.bin").write_bytes(batch)
        _read_all(root)


# --- collection.json and config.json --------------------------------------------------------


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Text for a JSON file: ``valid`` with a key dropped, a value replaced or added, the whole replaced, cut,
    or arbitrary bytes."""
    keys = sorted(valid)

    def nested(value: dict, path: list[str], new: Any) -> dict:
        """``value`` with the item at ``path`` replaced by ``new`` (or dropped when ``new`` is ``...``)."""
        if not path:
            return new
        out = dict(value)
        head, *rest = path
        if not rest and new is ...:
            out.pop(head, None)
        elif isinstance(out.get(head), dict) and rest:
            out[head] = nested(out[head], rest, new)
        else:
            out[head] = new if new is not ... else None
        return out

    paths = [[k] for k in keys] + [[k, sub] for k in keys if isinstance(valid[k], dict) for sub in valid[k]]
    as_text = json.dumps
    return st.one_of(
        st.builds(lambda p: as_text(nested(valid, p, ...)), st.sampled_from(paths)),
        st.builds(lambda p, v: as_text(nested(valid, p, v)), st.sampled_from(paths), JSON),
        st.builds(lambda k, v: as_text({**valid, k: v}), st.text(max_size=10), JSON),
        st.builds(as_text, JSON),
        st.builds(lambda n: as_text(valid)[:n], st.integers(0, len(as_text(valid)))),
        st.just("[" * 100_000),
    ).map(str.encode) | st.binary(max_size=200)


def _fuzz_file(root: Path, rel: str, attempt: Callable[[Path], Any]) -> Callable[[bytes], None]:
    def run(text: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(shutil.copytree(root, Path(tmp) / root.name))
            (copy / rel).write_bytes(text)
            try:
                result = attempt(copy)
            except RetrievalError as exc:
                assert str(exc).strip(), "the error says what is wrong"
            else:
                close = getattr(result, "close", None)
                if close:
                    close()

    return run


@pytest.mark.slow
def test_a_mutated_collection_json_opens_or_is_a_clear_error(built_text):
    valid = json.loads((built_text / MANIFEST).read_text())
    run = _fuzz_file(built_text, MANIFEST, lambda path: retrieval.open(path, device="cpu"))

    @FUZZ
    @given(text=_mutations(valid))
    @example(text=b"[" * 100_000)  # a RecursionError in json before the fix
    @example(text=json.dumps({**valid, "modality": ["text"]}).encode())
    def fuzz(text: bytes) -> None:
        run(text)

    fuzz()


def test_a_mutated_encoder_config_loads_or_is_a_clear_error(built_text):
    encoder = built_text / ENCODER_DIR
    valid = json.loads((encoder / "config.json").read_text())
    run = _fuzz_file(encoder, "config.json", lambda path: load_encoder(path, device="cpu", progress=False))

    @FUZZ
    @given(text=_mutations(valid))
    @example(text=json.dumps({**valid, "encoder": []}).encode())  # a TypeError (unhashable) before the fix
    @example(text=json.dumps({**valid, "encoder": {"name": "fake-text"}}).encode())
    @example(text=json.dumps({**valid, "config": [1, 2]}).encode())
    @example(text=b"[" * 100_000)
    def fuzz(text: bytes) -> None:
        run(text)

    fuzz()

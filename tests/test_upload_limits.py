"""Image uploads cannot freeze the server (issue 30, item 3): an image is decoded in a worker thread, never on
the event loop, and one of more than ``MAX_UPLOAD_PIXELS`` pixels is refused from its header before decoding
(a 9,990×9,990 PNG is 388 KB of compressed zeros)."""

from __future__ import annotations

import struct
import threading
import time
import zlib

import numpy as np
import pytest

import retrieval
import retrieval.server.uploads as uploads
from retrieval.images import ImageError, to_pixels

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (needs httpx)

from retrieval.server.app import create_app  # noqa: E402

from .test_server_api import png_bytes  # noqa: E402


def big_png(width: int, height: int) -> bytes:
    """A real RGBA PNG of ``width`` × ``height`` transparent pixels, small because they compress."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), bytes(1 + 4 * width)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.fixture
def client(tmp_path, image_dir):
    retrieval.index_source(image_dir, tmp_path / "i.aer", encoder="fake-image")
    with TestClient(create_app(tmp_path / "i.aer", token="t" * 20, device="cpu", refresh_s=0),
                    base_url="http://localhost") as c:
        yield c


@pytest.mark.slow
def test_a_huge_png_is_refused_from_its_header_quickly(client, tmp_path):
    bomb = big_png(9990, 9990)
    assert len(bomb) < 500_000
    start = time.perf_counter()
    response = client.post("/search", files={"image": ("bomb.png", bomb, "image/png")})
    elapsed = time.perf_counter() - start
    assert response.status_code == 400, response.text
    assert "image too large (9990×9990 pixels; at most 25,000,000)" in response.json()["message"]
    assert elapsed < 2.0, elapsed  # decoding it would take seconds and over a gigabyte
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(ImageError, match="at most 1,000"):
        to_pixels(tmp_path / "bomb.png", max_pixels=1000)  # the library's own cap is a parameter


def test_decoding_runs_off_the_event_loop(client, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = uploads.to_pixels

    def slow(path, **kwargs):
        started.set()
        release.wait(5)  # as a slow decode would
        return real(path, **kwargs)

    monkeypatch.setattr(uploads, "to_pixels", slow)
    image = png_bytes(np.zeros((32, 32, 3), dtype=np.uint8))
    answers: list = []
    upload = threading.Thread(
        target=lambda: answers.append(client.post("/search", files={"image": ("x.png", image, "image/png")}))
    )
    upload.start()
    try:
        assert started.wait(5)
        start = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - start < 2.0  # answered while the decode is still running
    finally:
        release.set()
        upload.join(10)
    assert answers and answers[0].status_code == 200, answers and answers[0].text

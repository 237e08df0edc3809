"""Uploaded images, decoded by the library's one rule (``retrieval.images.to_pixels``) in a worker thread, never
on the event loop, and refused from their header when they hold over ``MAX_UPLOAD_PIXELS`` pixels: a small file
can claim a huge image (a PNG of zeros compresses ~1000:1)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..images import ImageError, to_pixels
from .limits import MAX_UPLOAD_PIXELS

FIELD = "image"


async def read_form(request: Request, fields: int = 10) -> FormData:
    """The multipart form of ``request``: one file at most, a few small fields (400 otherwise)."""
    return await request.form(max_files=1, max_fields=fields, max_part_size=64 * 1024)


async def uploaded_pixels(form: FormData) -> np.ndarray:
    """The form's ``image`` file as ``(32, 32, 3)`` uint8; ``ImageError`` (400) saying why it cannot be."""
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, f"form field {FIELD!r}: expected an image file upload")
    data = await upload.read()
    if not data:
        raise ImageError("the upload is empty")
    return await run_in_threadpool(pixels_of, data, Path(upload.filename or "").suffix)


def pixels_of(data: bytes, suffix: str = "") -> np.ndarray:
    """Image file bytes as pixels. Decoded from a temporary file: the library's guards against truncated,
    corrupt and oversized images are written for paths."""
    with tempfile.NamedTemporaryFile(suffix=suffix[:10]) as tmp:
        tmp.write(data)
        tmp.flush()
        return to_pixels(Path(tmp.name), max_pixels=MAX_UPLOAD_PIXELS)


def form_text(form: FormData, name: str, *, required: bool = False) -> str | None:
    """A plain text field of ``form`` (``None`` when absent and not required)."""
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise HTTPException(422, f"form field {name!r}: expected text, got a file")
    if value is None or not value.strip():
        if required:
            raise HTTPException(422, f"form field {name!r}: required")
        return None
    return value.strip()

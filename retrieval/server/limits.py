"""What one request may ask for: body sizes, items per write, results per search."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

MAX_IMAGE_BODY = 10 * 1024 * 1024  # a multipart upload (one image and its fields)
MAX_UPLOAD_PIXELS = 25_000_000  # an uploaded image's width × height, checked from its header before decoding
MAX_TEXT_BODY = 1024 * 1024  # any other body (JSON)
MAX_ITEMS = 1000  # items in one POST /items
MAX_K = 1000  # results of one search
DRAIN_CAP = 64 * 1024 * 1024  # an oversized body is read and dropped up to this much, so the client sees the 413


def body_limit(headers: Headers) -> int:
    """The most bytes a request with these headers may send."""
    is_upload = headers.get("content-type", "").startswith("multipart/form-data")
    return MAX_IMAGE_BODY if is_upload else MAX_TEXT_BODY


def too_large(limit: int) -> str:
    return f"request body too large: the limit is {limit // 1024 // 1024} MB for this kind of request"


class BodyLimit:
    """ASGI middleware: refuse a body over ``body_limit`` with 413, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = body_limit(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Reading the body first: a server that closes on unread data resets the socket, and the client
            # may then never read the answer.
            if int(declared) <= DRAIN_CAP:
                await _drain(receive)
            await error_response(413, "body_too_large", too_large(limit))(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if seen <= DRAIN_CAP and message.get("more_body"):
                        await _drain(receive)
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, limited, send)


async def _drain(receive: Receive) -> None:
    read = 0
    while read <= DRAIN_CAP:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return

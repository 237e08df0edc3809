"""What one request may ask for: body sizes, items per write, results per search, time to send its body."""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

MAX_IMAGE_BODY = 10 * 1024 * 1024  # a multipart upload (one image and its fields)
MAX_UPLOAD_PIXELS = 25_000_000  # an uploaded image's width × height, checked from its header before decoding
MAX_TEXT_BODY = 1024 * 1024  # any other body (JSON)
MAX_ITEMS = 1000  # items in one POST /items
MAX_K = 1000  # results of one search
MAX_DEPTH = 10_000  # offset + k of one search: how deep a page may reach into the ranking
DRAIN_CAP = 64 * 1024 * 1024  # an oversized body is read and dropped up to this much, so the client sees the 413
BODY_TIMEOUT_S = 60.0  # the most a client may take to send a request's body, from the request's start
BODY_IDLE_S = 15.0  # the longest wait for the body's next chunk (a stalled client is let go sooner)


def body_limit(headers: Headers) -> int:
    """The most bytes a request with these headers may send."""
    is_upload = headers.get("content-type", "").startswith("multipart/form-data")
    return MAX_IMAGE_BODY if is_upload else MAX_TEXT_BODY


def too_large(limit: int) -> str:
    return f"request body too large: the limit is {limit // 1024 // 1024} MB for this kind of request"


def too_slow(timeout_s: float) -> str:
    return f"request body too slow: it must arrive within {timeout_s:g} s, with no long pause; nothing was changed"


class BodyLimit:
    """ASGI middleware: refuse a body over ``body_limit`` with 413, declared (Content-Length) or streamed, and
    one that has not arrived ``timeout_s`` after the request began, or pauses ``idle_s``, with 408 (the
    connection is then closed): a client that sends its headers and then trickles or stalls holds nothing for
    long."""

    def __init__(self, app: ASGIApp, timeout_s: float = BODY_TIMEOUT_S, idle_s: float = BODY_IDLE_S) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.idle_s = min(idle_s, timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        receive = self._timed(receive)
        headers = Headers(scope=scope)
        limit = body_limit(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Reading the body first: a server that closes on unread data resets the socket, and the client
            # may then never read the answer.
            if int(declared) <= DRAIN_CAP:
                try:
                    await _drain(receive)
                except HTTPException as exc:  # too slow as well: say that, and close
                    response = error_response(exc.status_code, "request_timeout", exc.detail)
                    response.headers.update(exc.headers or {})
                    await response(scope, receive, send)
                    return
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

    def _timed(self, receive: Receive) -> Receive:
        """``receive``, raising ``HTTPException(408)`` when the body is late (see the class)."""
        deadline = time.monotonic() + self.timeout_s
        done = False

        async def timed() -> Message:
            nonlocal done
            if done:  # the body has been read: what is left is waiting for the client to disconnect
                return await receive()
            wait = min(self.idle_s, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.0))
            except TimeoutError:
                raise HTTPException(408, too_slow(self.timeout_s), headers={"Connection": "close"}) from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return timed


async def _drain(receive: Receive) -> None:
    read = 0
    while read <= DRAIN_CAP:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return

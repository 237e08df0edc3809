"""The search's fast lane: ``GET`` and ``POST /search`` answered without the framework's per-request machinery.

Through FastAPI's route a search also paid for the dependency solver reading seven query parameters, the
response model validating and re-serialising every hit, and a hop to the thread pool and back. ``SearchLane``
takes a plain request instead: ``GET`` whose parameters are the documented ones, each well-formed (``q`` or
``like``, ``k``, ``offset``, ``mode``, ``id_prefix``, ``label`` repeated or not), or a JSON ``POST`` (validated by
the route's own ``SearchBody``). It runs the search on the event loop, or in the thread pool while a write of
this server holds or awaits the collection (so the loop never waits for a lock), and sends the answer
serialised once with orjson, in ``SearchOut``'s shape. Any other request (a parameter missing, repeated, out of
range or unknown, a JSON field the lane does not read, an upload, another method) goes on to the routes in
``routes.py``, which answer it as before; an error in the lane is answered by the app's own exception handlers.
The lane never answers differently, only sooner.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, get_args
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..collection.filters import collecting_warnings
from ..collection.hits import Hit
from .auth import route_path
from .limits import MAX_DEPTH, MAX_K
from .routes import SEARCH_BODY, check_json, find, parse_body
from .schemas import SearchMode, where_of
from .state import Served

PATH = "/search"
MODES = frozenset(get_args(SearchMode))
_SCALARS = frozenset({"q", "like", "k", "offset", "mode", "id_prefix"})
_POSTED = _SCALARS | {"label"}  # the fields of a JSON body the lane reads: any other goes to the route
_NUMBER = re.compile(r"0|[1-9][0-9]{0,5}")  # what the lane reads as an int; any other spelling goes to the route
_JSON = [(b"content-type", b"application/json")]
Handler = Callable[[Request, Exception], Any]


def search_json(hits: list[Hit], took_ms: float, warnings: list[str]) -> bytes:
    """A search's answer as ``SearchOut``'s JSON (fields in its order)."""
    out = [{"id": h.id, "score": h.score, "label": h.label, "snippet": h.snippet, "source": h.source,
            "highlights": h.highlights} for h in hits]  # fmt: skip
    payload = {"hits": out, "took_ms": took_ms, "warnings": warnings}
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def get_params(query_string: bytes) -> dict[str, Any] | None:
    """The search parameters of a plain ``GET /search`` query string, as ``find`` takes them; ``None`` when the
    route must judge it (see the module)."""
    scalars: dict[str, str] = {}
    labels: list[str] = []
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):  # as Starlette reads it
        if key == "label":
            labels.append(value)
        elif key not in _SCALARS or key in scalars or not value:
            return None
        else:
            scalars[key] = value
    q, like, mode = scalars.get("q"), scalars.get("like"), scalars.get("mode")
    k, offset = scalars.get("k", "10"), scalars.get("offset", "0")
    if (q is None) == (like is None) or not (_NUMBER.fullmatch(k) and _NUMBER.fullmatch(offset)):
        return None
    if mode is not None and (mode not in MODES or (like is not None and mode != "codes")):
        return None
    k_, offset_ = int(k), int(offset)
    if not 1 <= k_ <= MAX_K or offset_ + k_ > MAX_DEPTH:
        return None
    where = where_of(labels or None, scalars.get("id_prefix"))
    return {"query": q, "like": like, "k": k_, "where": where, "mode": mode, "offset": offset_}


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands out ``body`` (already read) first, as one message."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class SearchLane:
    """ASGI middleware: the fast lane for ``/search`` (see the module). Add it first, so it runs innermost:
    inside the host check, the read gate and the body limits."""

    def __init__(self, app: ASGIApp, served: Served, handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.served = served
        self.handlers = handlers  # the app's exception handlers (the same dict: later ones are seen too)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST") or route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] == "GET":
                params = get_params(scope["query_string"])
            else:
                params, receive = await self._posted(scope, receive)
            if params is not None:
                if self.served.write_pending():
                    body = await run_in_threadpool(self.search, params)
                else:
                    body = self.search(params)
        except Exception as exc:
            await self._error(scope, receive, send, exc)
            return
        if params is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_JSON, (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    async def _posted(self, scope: Scope, receive: Receive) -> tuple[dict[str, Any] | None, Receive]:
        """A JSON ``POST``'s parameters (a bad body raises what the route raises) and what reads the body; no
        parameters for an upload, or a body with a field the lane does not read (the body is then read again)."""
        request = Request(scope, receive)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            return None, receive
        check_json(request)
        raw = await request.body()
        body = parse_body(SEARCH_BODY, raw)
        if not body.model_fields_set <= _POSTED:
            return None, replay(raw, receive)
        return {"query": body.q, "like": body.like, "k": body.k, "where": where_of(body.label, body.id_prefix),
                "mode": body.mode, "offset": body.offset}, receive  # fmt: skip

    def search(self, params: dict[str, Any]) -> bytes:
        """One search's answer, as JSON."""
        started = time.perf_counter()
        with self.served.reading() as col, collecting_warnings() as warnings:
            hits = find(col, **params)
            took_ms = round((time.perf_counter() - started) * 1000, 3)
        return search_json(hits, took_ms, warnings)

    async def _error(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """``exc`` answered by the app's handler for it, as the route's would be; with none (or only the catch-all
        for unexpected errors), raised on to the server-error middleware, as from the route."""
        handler = None
        if isinstance(exc, HTTPException):
            handler = self.handlers.get(exc.status_code)
        for kind in type(exc).__mro__:
            if handler is not None or kind is Exception:
                break
            handler = self.handlers.get(kind)
        if handler is None:
            raise exc
        response = handler(Request(scope, receive), exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)

"""Item ids in URL paths: ``/items/{id}``, ``/items/{id}/similar`` and ``/items/{id}/thumbnail.png`` for any id.

The router matches the *decoded* path, where ``/items/foo%2Fsimilar`` (the item ``foo/similar``) reads as "the
items like ``foo``" and ``/items/a%0Ab`` matches no route at all (a path parameter stops at a newline). So the id
is read from the raw path instead: what follows ``/items/``, less a trailing ``/similar`` or ``/thumbnail.png``
written with a plain ``/``, percent-decoded. The router is handed it percent-encoded as one segment, and the
routes take it back with ``ItemId``. Write a ``/`` inside an id as ``%2F`` (``encodeURIComponent``); a plain one
works too, unless the id ends in ``/similar`` or ``/thumbnail.png``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/items/"
SUFFIXES = ("/similar", "/thumbnail.png")
SCOPE_KEY = "aer.item_id"  # where the id read from the raw path is kept for the route


class ItemPaths:
    """ASGI middleware: route ``/items/...`` by the id as the client wrote it (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = routed(scope)
        await self.app(scope, receive, send)


def routed(scope: Scope) -> Scope:
    """``scope`` with an ``/items/`` path rewritten to ``/items/<the id, percent-encoded><suffix>``."""
    path, root = scope["path"], scope.get("root_path", "")
    route = path[len(root) :] if root and path.startswith(root) else path
    raw = scope.get("raw_path")
    if not route.startswith(PREFIX) or raw is None:
        return scope
    raw_text = raw.split(b"?", 1)[0].decode("latin-1")
    at = raw_text.find(PREFIX)
    if at < 0 or unquote(raw_text[at:]) != route:  # not the path the server decoded: leave it to the router
        return scope
    rest = raw_text[at + len(PREFIX) :]
    suffix = next((s for s in SUFFIXES if rest.endswith(s) and len(rest) > len(s)), "")
    item_id = unquote(rest[: len(rest) - len(suffix)])
    new_route = PREFIX + quote(item_id, safe="") + suffix
    return {**scope, "path": path[: len(path) - len(route)] + new_route, SCOPE_KEY: item_id}


def item_id_of(request: Request, item_id: str) -> str:
    """The id a route's ``{item_id}`` stands for: the one read from the raw path (else the router's own)."""
    return request.scope.get(SCOPE_KEY, item_id)


ItemId = Annotated[str, Depends(item_id_of)]

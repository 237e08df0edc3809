"""Several collections behind one server: each at ``/c/{name}/`` with every route a one-collection server has.

>>> from retrieval.server import create_server_app
>>> app = create_server_app(["news.aer", "photos.aer"])   # /c/news/search, /c/photos/items/..., /collections

Each collection gets its own ``create_app`` (host check, body limits, tokens and error answers included); a
small dispatcher hands a request under ``/c/{name}/`` to that app, mounted there (its root path is the prefix,
so the page's relative addresses, thumbnails and ``/docs`` work below it). ``GET /collections`` lists them.
With one collection, every other path goes to its app untouched: today's routes at ``/`` answer as before.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import CollectionError, InvalidParameterError, RetrievalError
from .app import PAGE_HEADERS, create_app
from .auth import protect, route_path
from .errors import _CODES, error_response
from .hosts import HostCheck, allowed_names
from .limits import BODY_TIMEOUT_S, BodyLimit
from .state import REFRESH_S, CollectionGone, Served

log = logging.getLogger("aer.serve")

PREFIX = "/c/"  # a collection's routes: /c/{name}/...
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a name that needs no escaping in a URL


def collection_names(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Each collection's name (its directory's stem: ``news`` for ``data/news.aer``) and path, in order.
    Two with one name, or a name unfit for a URL, is an error naming them."""
    named: dict[str, Path] = {}
    for given in paths:
        path = Path(given)
        name = path.resolve().stem if path.name in ("", ".", "..") else path.stem
        if not NAME.fullmatch(name):
            raise InvalidParameterError(f"{path}: the collection's name {name!r} cannot be a URL part /c/NAME/ "
                                        "(letters, digits, '.', '_' and '-' only); rename its directory")  # fmt: skip
        if name in named:
            raise InvalidParameterError(f"two collections would be served as {name!r}: {named[name]} and {path} "
                                        "(a collection is named by its directory's stem); rename one")  # fmt: skip
        named[name] = path
    if not named:
        raise InvalidParameterError("no collection to serve: give at least one")
    return named


class Dispatch:
    """ASGI: ``/c/{name}/...`` to that collection's app, mounted at ``/c/{name}``; with one collection, any other
    path but ``/collections`` to its app as it is; the rest (and the lifespan) to ``index``."""

    def __init__(self, apps: Mapping[str, ASGIApp], index: ASGIApp, root: ASGIApp | None = None) -> None:
        self.apps = dict(apps)
        self.index = index
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            route = route_path(scope)
            if route.startswith(PREFIX):
                name, slash, _ = route[len(PREFIX) :].partition("/")
                app = self.apps.get(name)
                if app is not None and slash:
                    root = scope.get("root_path", "")
                    top = scope.get("app_root_path", root)  # as Starlette's Mount sets them
                    await app({**scope, "root_path": f"{root}{PREFIX}{name}", "app_root_path": top}, receive, send)
                    return
            elif self.root is not None and route != "/collections":
                await self.root(scope, receive, send)
                return
        await self.index(scope, receive, send)


def create_server_app(
    collections: Mapping[str, str | Path] | Iterable[str | Path],
    *,
    token: str | None = None,
    read_token: str | None = None,
    db: str | None = None,
    device: str = "auto",
    lock_wait_s: float | None = None,
    refresh_s: float = REFRESH_S,
    allowed_hosts: Iterable[str] = (),
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> Dispatch:
    """The app serving ``collections`` (paths, named by their directories' stems, or a name → path mapping),
    each under ``/c/{name}/``, with ``GET /collections``; with one collection its routes also answer at ``/``.

    Every collection is opened now: one that cannot be is an error naming it, and none is served. The options
    are ``create_app``'s, the same for every collection (``db``: one collection only). The watchers start with
    the app's lifespan."""
    named = {name: Path(p) for name, p in collections.items()} if isinstance(collections, Mapping) else \
        collection_names(collections)  # fmt: skip
    for name in named:
        if not NAME.fullmatch(name):
            raise InvalidParameterError(f"the collection name {name!r} cannot be a URL part /c/NAME/ "
                                        "(letters, digits, '.', '_' and '-' only)")  # fmt: skip
    if db is not None and len(named) > 1:
        raise InvalidParameterError("a metadata database (--db) belongs to one collection: serve one collection "
                                    "with it, or several without it")  # fmt: skip
    hosts = allowed_names(allowed_hosts)
    apps: dict[str, FastAPI] = {}
    try:
        for name, path in named.items():
            try:  # each app checks Host itself; a request for no collection is checked by the index
                apps[name] = create_app(path, db=db, token=token, read_token=read_token, device=device,
                                        lock_wait_s=lock_wait_s, refresh_s=refresh_s, allowed_hosts=hosts,
                                        body_timeout_s=body_timeout_s)  # fmt: skip
            except RetrievalError as exc:
                raise CollectionError(f"cannot serve the collection {name!r} ({path}): {exc}") from exc
    except BaseException:
        for app in apps.values():  # the ones opened before the failure
            app.state.served.close()
        raise
    served = {name: app.state.served for name, app in apps.items()}
    index = index_app(served, token=token, read_token=read_token, allowed_hosts=hosts, body_timeout_s=body_timeout_s)
    return Dispatch(apps, index, root=next(iter(apps.values())) if len(apps) == 1 else None)


def index_app(served: Mapping[str, Served], *, token: str | None, read_token: str | None,
              allowed_hosts: Iterable[str], body_timeout_s: float) -> FastAPI:  # fmt: skip
    """The routes of no one collection: ``GET /collections``, a list page at ``/`` (several collections), the
    ``/c/{name}`` → ``/c/{name}/`` redirect, JSON errors for the rest; its lifespan runs every collection's."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for one in served.values():
            one.start()
        try:
            yield
        finally:
            for one in served.values():
                one.close()

    app = FastAPI(title="ae-retrieval", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, timeout_s=body_timeout_s)
    protect(app, token, read_token, open_routes=[PREFIX + name for name in served])  # redirects stay open
    app.add_middleware(HostCheck, allowed=allowed_hosts)  # the outermost
    reads_open = not app.state.read_check.enabled

    def listed(request: Request) -> list[dict[str, Any]]:
        root = request.scope.get("root_path", "")
        return [{"name": name, **brief(one), "url": f"{root}{PREFIX}{name}/"} for name, one in served.items()]

    @app.get("/collections")
    def collections(request: Request) -> dict[str, Any]:
        return {"collections": listed(request)}

    if len(served) > 1:  # one collection: its page is at "/"

        @app.get("/")
        def page(request: Request) -> HTMLResponse:
            if reads_open:
                rows = "".join(f'<li><a href="c/{c["name"]}/">{c["name"]}</a>: {c["modality"]}, {c["items"]} items, '
                               f"{html.escape(str(c['encoder']))}</li>" for c in listed(request))  # fmt: skip
                body = f"<ul>{rows}</ul><p>The same as JSON: <a href=\"collections\">/collections</a>.</p>"
            else:
                body = "<p>Reading this server needs its read token: <code>GET /collections</code> lists the " \
                       "collections; each one's search page is at <code>/c/NAME/</code>.</p>"  # fmt: skip
            text = f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ae-retrieval</title>' \
                   f"</head><body><h1>Collections</h1>{body}</body></html>"  # fmt: skip
            return HTMLResponse(text, headers=PAGE_HEADERS)

    @app.get(PREFIX + "{name}")
    def bare(name: str, request: Request) -> RedirectResponse:
        if name not in served:
            raise HTTPException(404, unknown(name, served))
        return RedirectResponse(f"{request.scope.get('root_path', '')}{PREFIX}{name}/", status_code=308)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        route = route_path(request.scope)
        if exc.status_code == 404 and message == "Not Found":
            name = route[len(PREFIX) :].partition("/")[0] if route.startswith(PREFIX) else None
            where = "GET /collections lists the collections, each under /c/NAME/"
            message = unknown(name, served) if name is not None else f"nothing at {request.url.path} ({where})"
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed at {request.url.path}"
        response = error_response(exc.status_code, _CODES.get(exc.status_code, "error"), message)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal server error (the server's log has the details)")

    return app


def brief(served: Served) -> dict[str, Any]:
    """``Served.brief()``; for a collection deleted under the server, ``items`` and ``encoder`` ``None`` and why."""
    try:
        return served.brief()
    except CollectionGone as exc:
        return {"modality": served.modality, "items": None, "encoder": None, "error": str(exc)}


def unknown(name: str | None, served: Mapping[str, Served]) -> str:
    """What a request for a collection this server does not have is told."""
    shown = repr(name[:100]) if name else "''"
    return f"no collection named {shown} on this server; it serves {', '.join(served)} (GET /collections)"

"""``create_app``: the ASGI app that serves one collection (API, OpenAPI page at ``/docs``, search page at ``/``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import InvalidParameterError
from . import errors
from .auth import check_pair, protect, read_dependencies
from .fast import SearchLane
from .item_paths import ItemPaths
from .hosts import HostCheck, allowed_names
from .limits import BODY_TIMEOUT_S, BodyLimit
from .metrics import Metrics, RequestMetrics, metrics_router
from .routes import read_router
from .snapshots import snapshot_router
from .state import REFRESH_S, Served
from .writes import write_router

STATIC = Path(__file__).with_name("static")
# The page loads nothing from elsewhere and runs no inline script.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    collection_path: str | Path,
    *,
    db: str | None = None,
    token: str | None = None,
    read_token: str | None = None,
    device: str = "auto",
    lock_wait_s: float | None = None,
    refresh_s: float = REFRESH_S,
    allowed_hosts: Iterable[str] = (),
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> FastAPI:
    """The app serving the collection at ``collection_path`` (opened now: a bad path fails here).

    ``token``: writes (``POST /items``, ``DELETE /items/{id}``) need ``Authorization: Bearer <token>``;
    without one they are refused (see ``read_token``). ``read_token``: reads need it or ``token`` (the page's
    files and ``/docs`` stay open; see ``auth``). ``lock_wait_s``: how long a write waits for another
    writer before a 503 (default: ``AER_LOCK_TIMEOUT``, else 3 s). ``refresh_s``: how often to look for
    other processes' writes (0: never). The watcher starts with the app's lifespan; an app mounted inside
    another one calls ``app.state.served.start()`` itself.

    ``allowed_hosts``: host names a request's ``Host`` header may name besides ``localhost``, ``127.0.0.1`` and
    ``[::1]`` (any port; ``*``: any name; ``*.example.org``: its subdomains); any other is answered 400, a guard
    against DNS rebinding. ``body_timeout_s``: how long a client may take to send a request's body (408 after).
    """
    hosts = allowed_names(allowed_hosts)  # a bad name fails here, before the collection is opened
    check_pair(token, read_token)
    if not body_timeout_s > 0:
        raise InvalidParameterError(f"body_timeout_s must be a positive number of seconds, not {body_timeout_s!r}")
    served = Served(collection_path, db=db, device=device, lock_wait_s=lock_wait_s, refresh_s=refresh_s)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        served.start()
        try:
            yield
        finally:
            served.close()

    app = FastAPI(
        title=f"ae-retrieval: {served.path.name}",
        version=__version__,
        description="Search a collection of autoencoder codes. Writes need `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        docs_url=None,  # served below from the bundled Swagger UI: FastAPI's own page loads it from a CDN
        redoc_url=None,
    )
    app.openapi_version = "3.0.3"  # what the bundled Swagger UI (4.x) renders; the schema needs nothing of 3.1
    app.state.served = served
    errors.install(app, served)
    app.add_middleware(SearchLane, served=served, handlers=app.exception_handlers)  # first: the innermost
    app.add_middleware(BodyLimit, timeout_s=body_timeout_s)
    app.add_middleware(ItemPaths)  # GET and DELETE /items/{id} for any id, '/' included
    writes = protect(app, token, read_token)  # reads behind the read token, if any; writes behind the token
    app.add_middleware(HostCheck, allowed=hosts)  # the outermost but for the metrics, before anything is answered
    app.state.metrics = Metrics(served, app)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)  # added last: the host check's 400s count too
    app.include_router(read_router(served), dependencies=read_dependencies(app))
    app.include_router(metrics_router(app.state.metrics), dependencies=read_dependencies(app))  # GET /metrics
    app.include_router(write_router(served, writes))
    app.include_router(snapshot_router(served, writes))  # POST /snapshot: refused until enable_snapshots
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=app.title,
            swagger_js_url="docs-assets/swagger-ui-bundle.js",
            swagger_css_url="docs-assets/swagger-ui.css",
            swagger_favicon_url="docs-assets/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    return app

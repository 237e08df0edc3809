"""``GET /metrics``: what the server has answered, in Prometheus' text format (with ``prometheus-client``).

Per collection app: requests and their latency by route template (``/items/{item_id}``, never the raw path: the
number of series stays bounded), method and status; searches answered; writes applied; error answers by status
and error code (the ``error`` field of the answer's JSON); and, read when scraped, the items served and the
index file's size on disk. Every series carries a ``collection`` label (the collection's name), and each app
has a registry of its own, so several apps' metrics can be exposed together (``exposition``).

``RequestMetrics`` counts in the request path: a timer, a status and a few counter increments per request,
through children looked up once per (route, method, status). It is added outside the other middleware, so the
host check's, the read gate's and the body limits' answers are counted too. An exception no handler answered
is counted as a 500 ``internal_error``, what the server answers for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..collection import directory
from .auth import route_path
from .state import Served

# Seconds: a plain search answers in the first few buckets, a write or an upload in the later ones.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEARCH_ROUTES = frozenset({"/search", "/items/{item_id}/similar"})
WRITE_ROUTES = {("POST", "/items"): "add", ("DELETE", "/items/{item_id}"): "delete"}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route of a request no route matched (a 404, or one refused before routing)
_PATHS_KEPT = 4096  # raw paths whose route template is remembered


class Metrics:
    """The counters of one collection app, in a registry of their own (``registry``)."""

    def __init__(self, served: Served, app: FastAPI) -> None:
        self.served = served
        self.app = app  # its routes give the templates of paths the router did not name
        self.name = served.name
        self.registry = CollectorRegistry()
        labels = ["collection"]
        self.requests = Counter("aer_http_requests", "HTTP requests answered, by route template, method and status",
                                [*labels, "route", "method", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("aer_http_request_duration_seconds", "Time to answer a request, by route template "
                                 "and method", [*labels, "route", "method"], buckets=BUCKETS,
                                 registry=self.registry)  # fmt: skip
        self.searches = Counter("aer_searches", "Searches answered (GET and POST /search, /items/{id}/similar)",
                                labels, registry=self.registry).labels(self.name)  # fmt: skip
        self.writes = Counter("aer_writes", "Writes applied, by kind (add: POST /items; delete)",
                              [*labels, "kind"], registry=self.registry)  # fmt: skip
        self.errors = Counter("aer_http_errors", "Error answers, by status and error code", [*labels, "status", "code"],
                              registry=self.registry)  # fmt: skip
        self.registry.register(Sizes(served))
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._routes: list[tuple[Any, str]] | None = None
        self._paths: dict[str, str] = {}

    def observe(self, scope: Scope, status: int, code: str | None, seconds: float) -> None:
        """Count one answered request."""
        route = self.route_of(scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(self.name, route, method, str(status)),
                        self.latency.labels(self.name, route, method))  # fmt: skip
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status >= 400:
            self.errors.labels(self.name, str(status), code or "").inc()
        elif route in SEARCH_ROUTES:
            self.searches.inc()
        elif (kind := WRITE_ROUTES.get((method, route))) is not None:
            self.writes.labels(self.name, kind).inc()

    def route_of(self, scope: Scope) -> str:
        """The route template of a request: the router's, else the first of the app's routes its path matches."""
        found = getattr(scope.get("route"), "path_format", None)
        if found:
            return found
        path = route_path(scope)
        found = self._paths.get(path)
        if found is None:
            if self._routes is None:
                self._routes = [(r.path_regex, r.path_format) for r in _routes(self.app.routes)]
            found = next((fmt for regex, fmt in self._routes if regex.match(path)), UNMATCHED)
            if len(self._paths) >= _PATHS_KEPT:
                self._paths = {}  # a new dict: the old one may be read meanwhile
            self._paths[path] = found
        return found

    def latest(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route with a path pattern, those of included routers too."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included router
        if inner is not None:
            yield from _routes(inner.routes)
        elif getattr(route, "path_regex", None) is not None and getattr(route, "path_format", None):
            yield route


class Sizes(Collector):
    """The items served and the index file's size, read at each scrape (nothing in the request path)."""

    def __init__(self, served: Served) -> None:
        self.served = served

    def collect(self) -> Iterator[Metric]:
        items = GaugeMetricFamily("aer_items", "Items in the served collection", labels=["collection"])
        size = GaugeMetricFamily("aer_index_bytes", "Size of the collection's index file on disk",
                                 labels=["collection"])  # fmt: skip
        try:
            with self.served.reading() as col:
                items.add_metric([self.served.name], len(col))
            size.add_metric([self.served.name], (self.served.path / directory.INDEX_FILE).stat().st_size)
        except Exception:  # the collection is gone: the scrape still answers, without these
            pass
        yield items
        yield size


class RequestMetrics:
    """ASGI middleware: each HTTP request's route, method, status, error code and time into ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, code = 500, "internal_error"  # what is answered for an exception no handler took

        async def sending(message: Message) -> None:
            nonlocal status, code
            if message["type"] == "http.response.start":
                status, code = message["status"], None
            elif status >= 400 and code is None and message["type"] == "http.response.body":
                code = error_code(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(scope, status, code, time.perf_counter() - started)


def error_code(body: bytes) -> str:
    """The ``error`` field of an error answer's JSON (``""`` for another body)."""
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    return str(found.get("error", "")) if isinstance(found, dict) else ""


def metrics_router(metrics: Metrics) -> APIRouter:
    """``GET /metrics`` for ``metrics``."""
    router = APIRouter()

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
                summary="The server's counters, in Prometheus' text format")  # fmt: skip
    def prometheus() -> Response:
        return Response(metrics.latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def exposition(metrics: Iterable[Metrics]) -> bytes:
    """Several apps' metrics as one text (each metric once, with every app's series: told by ``collection``)."""
    families: dict[str, Metric] = {}
    for one in metrics:
        for family in one.registry.collect():
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
            merged.samples.extend(family.samples)

    class Merged:
        def collect(self) -> Iterable[Metric]:
            return families.values()

    return generate_latest(Merged())  # type: ignore[arg-type]

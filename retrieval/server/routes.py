"""The read side of the API: health, info, search, items, thumbnails, outliers."""

from __future__ import annotations

import io
import time
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from PIL import Image
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..collection import Collection
from ..collection.filters import collecting_warnings
from ..collection.hits import Hit
from ..collection.outliers import DEFAULT_SCORE, resolve_score
from ..collection.store import ItemRecord
from ..errors import QueryError
from .errors import redact
from .item_paths import ItemId
from .limits import MAX_DEPTH, MAX_K
from .schemas import (MAX_OVERSAMPLE, MODE_HELP, OFFSET_HELP, OVERSAMPLE_HELP, HealthOut, ImageSearchForm, ItemOut,
                      LabelsOut, OutliersOut, SampleOut, SearchBody, SearchMode, SearchOut, check_depth,
                      where_of)  # fmt: skip
from .state import Served
from .uploads import FIELD, read_form, uploaded_pixels

K = Annotated[int, Query(ge=1, le=MAX_K, description="How many results.")]
OFFSET = Annotated[int, Query(ge=0, le=MAX_DEPTH, description=OFFSET_HELP)]
# the names of retrieval.collection.outliers.CHOICES
SCORE = Annotated[Literal["auto", "reconstruction", "knn", "combined", "orientation"],
                  Query(description="The outlier score (see retrieval.collection.outliers).")]  # fmt: skip
LABEL = Query(None, description="Keep only hits with this label; repeat for any of several.")
ID_PREFIX = Query(None, min_length=1, description="Keep only hits whose id starts with this.")
MAX_SAMPLE = 50  # items /sample hands out at most
MAX_LABELS = 100  # labels /sample lists at most
MAX_LABELS_LISTED = 10_000  # labels /labels lists at most

SEARCH_BODY = TypeAdapter(SearchBody)
IMAGE_FORM = TypeAdapter(ImageSearchForm)
_SEARCH_BODIES = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SearchBody.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD], "properties": {
        FIELD: {"type": "string", "format": "binary"}, "k": {"type": "integer"}, "offset": {"type": "integer"},
        "label": {"type": "array", "items": {"type": "string"}}, "id_prefix": {"type": "string"}}}},
}}}  # fmt: skip


def parse_body(adapter: TypeAdapter[Any], raw: bytes | dict[str, Any]) -> Any:
    """``raw`` (JSON bytes, or form fields) validated by ``adapter``; errors as FastAPI's, located in the body."""
    try:
        return adapter.validate_json(raw) if isinstance(raw, bytes) else adapter.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def check_json(request: Request) -> None:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind not in ("application/json", ""):
        raise HTTPException(415, f"send JSON (Content-Type: application/json) or a multipart upload, not {kind}")


def find(col: Collection, *, query: Any = None, like: str | None = None, k: int, where: dict | None,
         mode: str | None = None, offset: int = 0, oversample: float | None = None) -> list[Hit]:  # fmt: skip
    """The hits of one search: by text or pixels (``query``, in search ``mode``) or by a stored item (``like``)."""
    if like is None and isinstance(query, str) and col.modality == "image":
        raise QueryError(
            f"an image collection is searched with an image (POST /search, multipart field {FIELD!r}) or like=ID"
        )
    if like is None and not isinstance(query, str) and col.modality == "text":
        raise QueryError("a text collection is searched with text (q=...) or like=ID, not with an image")
    if like is not None:
        return col.search_by_id(like, k=k, where=where, offset=offset, oversample=oversample)
    return col.search(query, k=k, where=where, mode=mode, offset=offset, oversample=oversample)


def answer(hits: list[Hit], started: float, warnings: list[str] | None = None) -> dict[str, Any]:
    took_ms = round((time.perf_counter() - started) * 1000, 3)
    return {"hits": [h.to_dict() for h in hits], "took_ms": took_ms, "warnings": warnings or []}


def depth_checked(k: int, offset: int) -> None:
    """A query string's ``offset`` + ``k`` past ``MAX_DEPTH`` is a 422, as the bodies' are."""
    try:
        check_depth(k, offset)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def sample_keys(labels: dict[int, str | None], n: int) -> list[int]:
    """At most ``n`` keys of ``labels`` (key -> label), taken in rounds: each label's lowest key not taken yet,
    labels in order, the unlabelled items (no label or an empty one) last in each round."""
    groups: dict[str | None, list[int]] = {}
    for key in sorted(labels):
        groups.setdefault(labels[key] or None, []).append(key)
    order = sorted(label for label in groups if label is not None) + ([None] if None in groups else [])
    chosen: list[int] = []
    for turn in range(max(map(len, groups.values()), default=0)):
        chosen += [groups[label][turn] for label in order if turn < len(groups[label])]
        if len(chosen) >= n:
            break
    return chosen[:n]


def item_out(record: ItemRecord, modality: str, request: Request) -> dict[str, Any]:
    """One stored item as ``ItemOut`` (an image's thumbnail address under the app's root path; its whole text
    where the record holds it)."""
    thumb = f"{request.scope.get('root_path', '')}/items/{quote(record.id, safe='')}/thumbnail.png"
    return {"id": record.id, "label": record.label, "source": record.source, "snippet": record.snippet,
            "thumbnail": thumb if modality == "image" else None, "text": record.text}  # fmt: skip


def read_router(served: Served) -> APIRouter:
    """The read routes over ``served`` (any number at once)."""
    router = APIRouter()

    def search(**params: Any) -> dict[str, Any]:
        started = time.perf_counter()
        with served.reading() as col, collecting_warnings() as warnings:  # unknown labels: in the answer
            return answer(find(col, **params), started, warnings)

    @router.get("/healthz", response_model=HealthOut, summary="Liveness and item count")
    def healthz() -> dict[str, Any]:
        with served.reading() as col:
            return {"status": "ok", "items": len(col)}

    @router.get("/info", summary="What `aer info --json` prints, with the collection's name for its path")
    def info() -> dict[str, Any]:
        with served.reading() as col:
            found = col.info()
        return {**found, "path": served.name, "store": redact(str(found["store"]), served.path)}

    @router.get("/search", response_model=SearchOut, summary="Search by text, or for items like a stored one")
    def search_get(
        k: K = 10,
        q: Annotated[str | None, Query(min_length=1, description="Query text.")] = None,
        like: Annotated[str | None, Query(min_length=1, description="A stored item id.")] = None,
        label: list[str] | None = LABEL,
        id_prefix: str | None = ID_PREFIX,
        mode: Annotated[SearchMode | None, Query(description=MODE_HELP)] = None,
        offset: OFFSET = 0,
        oversample: Annotated[float | None, Query(ge=0, le=MAX_OVERSAMPLE, description=OVERSAMPLE_HELP)] = None,
    ) -> dict[str, Any]:
        depth_checked(k, offset)
        if (q is None) == (like is None):
            raise HTTPException(422, "give exactly one of the query parameters 'q' (text) and 'like' (an item id)")
        if like is not None and mode not in (None, "codes"):
            raise HTTPException(422, f"'like' searches by the item's code; mode {mode!r} takes a text query 'q'")
        return search(query=q, like=like, k=k, where=where_of(label, id_prefix), mode=mode, offset=offset,
                      oversample=oversample)

    @router.post("/search", response_model=SearchOut, openapi_extra=_SEARCH_BODIES,
                 summary="Search by JSON {q|like, k}, or by an uploaded image (multipart field 'image')")  # fmt: skip
    async def search_post(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            if served.modality != "image":
                raise QueryError('a text collection is searched with text (JSON {"q": ...}), not an upload')
            form = await read_form(request)
            fields = {key: form.get(key) for key in ("k", "offset", "id_prefix") if form.get(key) not in (None, "")}
            params = parse_body(IMAGE_FORM, {**fields, "label": form.getlist("label") or None})
            pixels = await uploaded_pixels(form)
            where = where_of(params.label, params.id_prefix)
            return await run_in_threadpool(search, query=pixels, k=params.k, where=where, offset=params.offset)
        check_json(request)
        body = parse_body(SEARCH_BODY, await request.body())
        where = where_of(body.label, body.id_prefix)
        return await run_in_threadpool(search, query=body.q, like=body.like, k=body.k, where=where, mode=body.mode,
                                       offset=body.offset, oversample=body.oversample)  # fmt: skip

    @router.get("/items/{item_id:path}/similar", response_model=SearchOut, summary="Items like a stored one")
    def similar(item_id: ItemId, k: K = 10, label: list[str] | None = LABEL, id_prefix: str | None = ID_PREFIX,
                offset: OFFSET = 0) -> Any:  # fmt: skip
        depth_checked(k, offset)
        return search(like=item_id, k=k, where=where_of(label, id_prefix), offset=offset)

    @router.get("/items/{item_id:path}/thumbnail.png", summary="An image item's stored 32×32 pixels, as PNG",
                response_class=Response, responses={200: {"content": {"image/png": {}}}})  # fmt: skip
    def thumbnail(item_id: ItemId) -> Response:
        with served.reading() as col:
            if col.modality != "image":
                raise HTTPException(404, "a text collection has no thumbnails")
            (pixels,) = col.pixels([item_id])
        png = io.BytesIO()
        Image.fromarray(pixels).save(png, format="PNG")
        return Response(png.getvalue(), media_type="image/png", headers={"Cache-Control": "max-age=60"})

    @router.get("/items/{item_id:path}", response_model=ItemOut, summary="One stored item, with its whole text")
    def item(item_id: ItemId, request: Request) -> dict[str, Any]:
        with served.reading() as col:
            record = col.item(item_id)
        return item_out(record, served.modality, request)

    @router.get("/sample", response_model=SampleOut,
                summary="A few stored items (one per label first) and the labels: the page's examples")  # fmt: skip
    def sample(request: Request, n: Annotated[int, Query(ge=1, le=MAX_SAMPLE, description="How many.")] = 8) -> Any:
        with served.reading() as col:
            labels = col.item_labels()  # every item's label: one read of the store
            keys = sample_keys(labels, n)
            records = col.store.by_keys(keys)
        names = sorted({label for label in labels.values() if label})
        items = [item_out(records[key], served.modality, request) for key in keys if key in records]
        return {"items": items, "labels": names[:MAX_LABELS], "labels_total": len(names)}

    @router.get("/labels", response_model=LabelsOut, summary="The labels with their item counts, most items first")
    def labels(limit: Annotated[int, Query(ge=1, le=MAX_LABELS_LISTED, description="List at most this many.")] = 100,
               ) -> dict[str, Any]:  # fmt: skip
        with served.reading() as col:
            counts = col.labels()  # one GROUP BY in the store
        listed = [{"label": label, "items": n} for label, n in list(counts.items())[:limit]]
        return {"labels": listed, "total": len(counts)}

    @router.get("/outliers", response_model=OutliersOut, summary="The least typical items (outlier score)")
    def outliers(k: K = 20, score: SCORE = DEFAULT_SCORE) -> dict[str, Any]:
        started = time.perf_counter()
        with served.reading() as col:
            return {**answer(col.outliers(k, score=score), started), "score": resolve_score(col, score)}

    return router

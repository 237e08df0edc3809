"""The write side of the API: add or update items, delete one. Every route needs the server's token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..errors import ItemNotFoundError
from ..ids import id_problem, normal_id, printable
from ..sources import Document, ImageItem, Rejected, check_item
from .auth import TokenCheck
from .errors import error_response
from .item_paths import ItemId
from .limits import MAX_ITEMS
from .routes import check_json, parse_body
from .schemas import AddOut, DeleteOut, NewItem
from .state import Served
from .uploads import FIELD, form_text, read_form, uploaded_pixels

ITEMS = TypeAdapter(Annotated[list[NewItem], Field(min_length=1, max_length=MAX_ITEMS)])
SOURCE = "api"  # the ``source`` of items added through the API

_ITEMS_BODIES = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                                    "items": NewItem.model_json_schema()}},
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD, "id"], "properties": {
        FIELD: {"type": "string", "format": "binary"}, "id": {"type": "string"}, "label": {"type": "string"}}}},
}}}  # fmt: skip


def text_items(items: list[NewItem]) -> tuple[list[Document], list[Rejected]]:
    """The items that can be indexed, and the others with the reason (an id ``retrieval.ids`` refuses, empty
    text). An id given twice (the same once in NFC form) is refused, as in a JSONL file: 400, nothing changed."""
    docs, rejected, seen = [], [], set()
    for item in items:
        item_id = normal_id(item.id)
        if item_id in seen:
            raise HTTPException(400, f"the id {item_id!r} is given twice in this request; nothing was changed")
        seen.add(item_id)
        if why := id_problem(item_id):
            rejected.append(Rejected(printable(item.id), why))  # escaped: a control character shows as \n
            continue
        checked = check_item(Document(id=item_id, text=item.text, label=item.label, source=SOURCE))
        (rejected if isinstance(checked, Rejected) else docs).append(checked)
    return docs, rejected


def write_router(served: Served, token: TokenCheck) -> APIRouter:
    """The write routes over ``served``: one write at a time, each behind ``token``."""
    router = APIRouter(dependencies=[Depends(token)])

    def add(items: list[Document | ImageItem], rejected: list[Rejected]) -> dict[str, Any]:
        if served.modality != ("image" if isinstance(items[0], ImageItem) else "text"):
            how = "a multipart upload (fields 'image', 'id', 'label')" if served.modality == "image" else "JSON"
            raise HTTPException(400, f"this is a {served.modality} collection: add its items as {how}")
        with served.writing() as col:
            report = col.add(items)
            count = len(col)
        return {"added": report.added, "updated": report.updated, "items": count,
                "rejected": [{"id": r.id, "reason": r.reason} for r in rejected],
                "outlier_scores": report.outlier_scores}  # fmt: skip

    @router.post("/items", response_model=AddOut, openapi_extra=_ITEMS_BODIES,
                 summary="Add or update items: a JSON list of {id, text, label}, or one image upload")  # fmt: skip
    async def add_items(request: Request) -> Any:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await read_form(request)
            item_id = normal_id(form_text(form, "id", required=True))
            if why := id_problem(item_id):
                raise HTTPException(422, f"form field 'id': {why}")
            label = form_text(form, "label")
            pixels = await uploaded_pixels(form)
            items: list[Any] = [ImageItem(id=item_id, pixels=pixels, label=label, source=SOURCE)]
            rejected: list[Rejected] = []
        else:
            check_json(request)
            items, rejected = text_items(parse_body(ITEMS, await request.body()))
        if not items:
            reasons = "; ".join(map(str, rejected[:5]))
            return error_response(422, "invalid_items", f"no item could be added ({reasons}); nothing was changed",
                                  rejected=[{"id": r.id, "reason": r.reason} for r in rejected])  # fmt: skip
        return await run_in_threadpool(add, items, rejected)

    @router.delete("/items/{item_id:path}", response_model=DeleteOut, summary="Delete one item")
    def delete_item(item_id: ItemId) -> dict[str, Any]:
        with served.writing() as col:
            deleted = col.delete([item_id])
            count = len(col)
        if not deleted:
            raise ItemNotFoundError(f"no item with id {item_id!r} in this collection; nothing was changed")
        return {"deleted": deleted, "items": count}

    return router

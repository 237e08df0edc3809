"""Every error as a small JSON body, ``{"error": CODE, "message": TEXT}``, with a 4xx status for a bad request.

No handler ever sends a traceback: an unexpected exception is logged and answered with a generic 500. A write
the disk has no room for is answered 507, another storage failure 503 (nothing was changed in either case); an
outlier score the collection cannot give, 400; a collection deleted under the server, 503 ``collection_gone``.
No answer names the server's files: the library's messages are sent with the collection's path replaced by its
name, any other absolute path by its last part and database URLs withheld (the server's log has them whole).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (CollectionError, InvalidParameterError, ItemNotFoundError, QueryError, RetrievalError,
                      StorageError, UnavailableScoreError)  # fmt: skip
from ..images import ImageError
from .state import Busy, CollectionGone, Served

log = logging.getLogger("aer.serve")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          408: "request_timeout", 413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_request",
          503: "busy", 507: "insufficient_storage"}  # fmt: skip


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The one shape of an error answer."""
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


_URL_REST = r"://[^\s'\"()]*[^\s'\"().,:;]"  # a URL's end: not the punctuation after it
_DATABASE_URL = re.compile(r"\b(?:sqlite|postgres(?:ql)?|mysql|mariadb|oracle|mssql)(?:\+\w+)?" + _URL_REST, re.I)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*" + _URL_REST, re.I)
# two or more components, not inside a word or a relative path: /tmp/x/news.aer, not /search nor a/b/c
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/-])(?:/[^\s/'\"():,;]+){2,}/?")


def redact(message: str, collection: Path, *, echo: bool = False) -> str:
    """``message`` with no path or URL of the server's: the collection's path becomes its name, a database URL
    "the metadata database", any other URL ``<url>``, any other absolute path its last part. ``echo``: the
    message repeats the request's own words (an id, a query), so only the collection's path is replaced."""
    if not echo:
        message = _DATABASE_URL.sub("the metadata database", message)
        message = _URL.sub("<url>", message)
    path = collection.absolute()
    name = path.name or path.resolve().name
    for form in sorted({str(path), str(path.resolve())}, key=len, reverse=True):
        message = message.replace(form, name)
    return message if echo else _ABSOLUTE_PATH.sub(lambda m: Path(m.group()).name, message)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("query", "k")`` → ``query parameter 'k'``; ``("body", 3, "id")`` → ``body[3].id``."""
    kind, *rest = loc or ("request",)
    if kind in ("query", "path", "header") and rest:
        return f"{kind} parameter {str(rest[0])!r}"
    return str(kind) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


def _problem(error: dict[str, Any]) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's prefix for our own checks


def validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    """Pydantic's errors as one message naming each bad field (malformed JSON: 400, the rest 422)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        err = next(e for e in errors if e.get("type") == "json_invalid")
        why = (err.get("ctx") or {}).get("error", "not valid JSON")
        return error_response(400, "malformed_json", f"the request body is not valid JSON ({why})")
    problems = [{"where": _where(e.get("loc", ())), "problem": _problem(e)} for e in errors[:20]]
    message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
    return error_response(422, "invalid_request", message, problems=problems)


def install(app: FastAPI, served: Served) -> None:
    """Register the handlers that turn every failure into ``error_response`` (messages ``redact``-ed)."""

    def said(exc: BaseException, echo: bool = False) -> str:
        return redact(str(exc), served.path, echo=echo)

    def gone() -> JSONResponse:
        return error_response(503, "collection_gone", said(served.gone_error()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        docs = request.scope.get("root_path", "") + "/docs"  # below the prefix a collection is served at
        if exc.status_code == 404 and message == "Not Found":  # no route: the framework's own words say little
            message = f"nothing at {request.url.path} (the API is listed at {docs})"
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed at {request.url.path} (the API is listed at {docs})"
        response = error_response(exc.status_code, _CODES.get(exc.status_code, "error"), message)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(list(exc.errors()))

    @app.exception_handler(RetrievalError)
    async def library_error(_: Request, exc: RetrievalError) -> JSONResponse:
        if isinstance(exc, Busy):
            return error_response(503, "busy", said(exc))
        if isinstance(exc, CollectionGone):  # the watcher logs it, once
            return gone()
        if isinstance(exc, CollectionError) and served.gone():  # deleted while the request was answered
            log.error("%s", exc)
            return gone()
        if isinstance(exc, ItemNotFoundError):
            return error_response(404, "not_found", said(exc, echo=True))
        if isinstance(exc, UnavailableScoreError):  # a score this collection cannot give: the request's doing
            return error_response(400, "unavailable_score", said(exc))
        if isinstance(exc, StorageError):  # nothing was changed; 507 tells a client that retrying will not help
            log.error("storage error: %s", exc)
            if exc.disk_full:
                return error_response(507, "insufficient_storage", said(exc))
            return error_response(503, "storage_error", said(exc))
        if isinstance(exc, CollectionError):  # the collection itself (damaged, disk full): not the client's doing
            log.error("collection error: %s", exc)
            return error_response(500, "collection_error", said(exc))
        echo = isinstance(exc, (QueryError, InvalidParameterError))  # the request's words; others are the server's
        return error_response(400, "bad_query", said(exc, echo=echo))  # QueryError, InvalidParameterError, ...

    @app.exception_handler(ImageError)
    async def bad_image(_: Request, exc: ImageError) -> JSONResponse:
        return error_response(400, "bad_image", f"the uploaded image cannot be used: {said(exc)}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
        if served.gone():  # its files vanished mid-request (an OSError, a database error)
            return gone()
        return error_response(500, "internal_error", "internal server error (the server's log has the details)")

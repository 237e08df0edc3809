"""Tokens: writes need the server's write token; reads need a token only when the server has a read token.

Either is given as a file (its first line) or an environment variable (``AER_API_TOKEN`` for writes,
``AER_READ_TOKEN`` for reads), never on the command line, and sent as ``Authorization: Bearer <token>``.
With a read token set, every route that answers from a collection (search, items, labels, sample, info,
``/collections``, and any route added later: the gate refuses by default) takes the read token or the write
token; the page's files and the OpenAPI page stay open (they hold no item). A write takes the write token only:
the read token there is a 403 that says so. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidParameterError
from .errors import error_response

TOKEN_ENV = "AER_API_TOKEN"
READ_TOKEN_ENV = "AER_READ_TOKEN"
# Declares the bearer scheme in the OpenAPI schema (``/docs`` gets its "Authorize" button); it refuses nothing
# itself: ``TokenCheck`` and ``ReadCheck`` answer every missing or wrong token, with their own messages.
BEARER = HTTPBearer(auto_error=False, description="The server's write token (AER_API_TOKEN or --token-file); "
                    "on a server with a read token, reads take that one or the write token.")  # fmt: skip
# What a server with a read token answers without one: the page and its files, the OpenAPI page.
OPEN_PATHS = ("/", "/docs", "/openapi.json")
OPEN_PREFIXES = ("/static/", "/docs-assets/")


def token_from(token_file: str | Path | None, env: str) -> str | None:
    """The first line of ``token_file`` if given, else the environment variable ``env``; ``None``: neither."""
    if token_file is not None:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameterError(f"{token_file}: cannot read the token file ({exc})") from exc
        token = lines[0].strip() if lines else ""
        if not token:
            raise InvalidParameterError(f"{token_file}: the token file is empty")
        return token
    return os.environ.get(env, "").strip() or None


def read_token(token_file: str | Path | None = None) -> str | None:
    """The write token: the first line of ``token_file`` if given, else ``AER_API_TOKEN``; ``None``: no writes."""
    return token_from(token_file, TOKEN_ENV)


def check_pair(token: str | None, reads: str | None) -> None:
    """Refuse a read token equal to the write token: a client holding it could not be told which it holds."""
    if token and reads and hmac.compare_digest(token.encode("utf-8"), reads.encode("utf-8")):
        raise InvalidParameterError("the read token and the write token must differ (the read token only reads)")


def _same(given: str, expected: bytes | None) -> bool:
    return expected is not None and hmac.compare_digest(given.strip().encode("utf-8"), expected)


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (``None``: another scheme, or none)."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class TokenCheck:
    """A FastAPI dependency: pass a request carrying the server's write token, answer 403 to any other."""

    def __init__(self, token: str | None, read_token: str | None = None) -> None:
        check_pair(token, read_token)
        self._token = token.encode("utf-8") if token else None
        self._read = read_token.encode("utf-8") if read_token else None

    @property
    def enabled(self) -> bool:
        """Whether this server takes writes at all."""
        return self._token is not None

    def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if self._token is None:
            raise HTTPException(
                403, f"writes are disabled: this server was started without a token (set {TOKEN_ENV} or --token-file)"
            )
        if credentials is None:  # no Authorization header, another scheme, or no token after "Bearer"
            raise HTTPException(403, "writes need the server's token: send 'Authorization: Bearer <token>'")
        if _same(credentials.credentials, self._read):
            raise HTTPException(403, "this is the read token: it only reads; writes need the server's write token")
        if not _same(credentials.credentials, self._token):
            raise HTTPException(403, "wrong token")


class ReadCheck:
    """The read rule: with no read token anything reads; with one, a request needs it or the write token.

    ``check(authorization)`` raises ``HTTPException(401)`` for a request that may not read; as a FastAPI
    dependency (``Depends(check)``) it does the same from the request's bearer credentials."""

    def __init__(self, read_token: str | None, token: str | None = None) -> None:
        check_pair(token, read_token)
        self._read = read_token.encode("utf-8") if read_token else None
        self._write = token.encode("utf-8") if token else None

    @property
    def enabled(self) -> bool:
        """Whether reads need a token on this server."""
        return self._read is not None

    def allows(self, token: str | None) -> bool:
        """Whether a request carrying ``token`` (``None``: none) may read."""
        if self._read is None:
            return True
        return token is not None and (_same(token, self._read) or _same(token, self._write))

    def check(self, authorization: str | None) -> None:
        """Raise 401 unless an ``Authorization`` header of this value may read (see the class)."""
        token = _bearer(authorization)
        if self.allows(token):
            return
        if token is None:
            message = (f"this server needs a token to read: send 'Authorization: Bearer <token>' with the read "
                       f"token ({READ_TOKEN_ENV} or --read-token-file) or the write token")  # fmt: skip
        else:
            message = "wrong token: reads take the server's read token or its write token"
        raise HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})

    def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        self.check(f"Bearer {credentials.credentials}" if credentials else None)


def require_read(request: Request) -> None:
    """A FastAPI dependency for a route outside the gate: the read rule of the app answering (``protect``)."""
    check: ReadCheck | None = getattr(request.app.state, "read_check", None)
    if check is not None:
        check.check(request.headers.get("authorization"))


def is_open(route: str) -> bool:
    """Whether a route path (below the app's root path) is answered without a read token."""
    return route in OPEN_PATHS or route.startswith(OPEN_PREFIXES)


def route_path(scope: Scope) -> str:
    """The request's path below the app's root path (where the app is mounted)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class ReadGate:
    """ASGI middleware: every request but those ``is_open`` lets through must pass ``check`` (401 otherwise).
    Refusing by default, so a route added later is covered too."""

    def __init__(self, app: ASGIApp, check: ReadCheck, open_routes: Iterable[str] = ()) -> None:
        self.app = app
        self.check = check
        self.open_routes = tuple(open_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.check.enabled:
            await self.app(scope, receive, send)
            return
        route = route_path(scope)
        if not (is_open(route) or route in self.open_routes):
            try:
                self.check.check(Headers(scope=scope).get("authorization"))
            except HTTPException as exc:
                response = error_response(401, "unauthorized", str(exc.detail))
                response.headers.update(exc.headers or {})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def protect(app: FastAPI, token: str | None, read_token: str | None, open_routes: Iterable[str] = ()) -> TokenCheck:
    """Put ``app``'s reads behind the read rule (a ``ReadGate``, ``app.state.read_check``) and hand back the
    write routes' dependency. Add it before the host check, so that one stays the outermost."""
    reads = ReadCheck(read_token, token)
    app.state.read_check = reads
    if reads.enabled:
        app.add_middleware(ReadGate, check=reads, open_routes=open_routes)
    return TokenCheck(token, read_token)


def read_dependencies(app: FastAPI) -> list[Any]:
    """What a read router is included with: the bearer scheme, declared for ``/docs`` when reads need a token
    (the ``ReadGate`` checks it; this only makes "Authorize" send it)."""
    check: ReadCheck | None = getattr(app.state, "read_check", None)
    return [Depends(BEARER)] if check is not None and check.enabled else []

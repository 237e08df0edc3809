"""Writes need a token: the server's (``AER_API_TOKEN`` or a token file) sent as ``Authorization: Bearer``."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from fastapi import Request
from starlette.exceptions import HTTPException

from ..errors import InvalidParameterError

TOKEN_ENV = "AER_API_TOKEN"


def read_token(token_file: str | Path | None = None) -> str | None:
    """The write token: the first line of ``token_file`` if given, else ``AER_API_TOKEN``; ``None``: no writes."""
    if token_file is not None:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameterError(f"{token_file}: cannot read the token file ({exc})") from exc
        token = lines[0].strip() if lines else ""
        if not token:
            raise InvalidParameterError(f"{token_file}: the token file is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


class TokenCheck:
    """A FastAPI dependency: pass a request carrying the server's token, answer 403 to any other."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def enabled(self) -> bool:
        """Whether this server takes writes at all."""
        return self._token is not None

    def __call__(self, request: Request) -> None:
        if self._token is None:
            raise HTTPException(
                403, f"writes are disabled: this server was started without a token (set {TOKEN_ENV} or --token-file)"
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise HTTPException(403, "writes need the server's token: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(given.strip().encode("utf-8"), self._token):
            raise HTTPException(403, "wrong token")

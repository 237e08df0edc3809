"""Writes need a token: the server's (``AER_API_TOKEN`` or a token file) sent as ``Authorization: Bearer``."""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from ..errors import InvalidParameterError

TOKEN_ENV = "AER_API_TOKEN"
# Declares the bearer scheme in the OpenAPI schema (``/docs`` gets its "Authorize" button); it refuses nothing
# itself: ``TokenCheck`` answers every missing or wrong token, with its own messages.
BEARER = HTTPBearer(auto_error=False, description="The server's write token (AER_API_TOKEN or --token-file).")


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

    def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if self._token is None:
            raise HTTPException(
                403, f"writes are disabled: this server was started without a token (set {TOKEN_ENV} or --token-file)"
            )
        if credentials is None:  # no Authorization header, another scheme, or no token after "Bearer"
            raise HTTPException(403, "writes need the server's token: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(credentials.credentials.strip().encode("utf-8"), self._token):
            raise HTTPException(403, "wrong token")

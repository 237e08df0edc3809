"""``POST /snapshot``: the served collection written to a new snapshot file (``retrieval.collection.snapshot``)
in the server's snapshot folder; it needs the write token.

The folder is the server's choice (``aer serve --snapshot-dir DIR``, or ``enable_snapshots(app, folder)``),
never the client's: the file is named ``<collection>-<UTC time>-<random>.tar.gz`` there, and the answer gives
its name, size, item count and time. A server without a folder refuses the route (403). The snapshot is taken
under the collection's write lock, as ``aer snapshot`` takes it: searches go on, writes wait while the files
are pinned; another process writing for longer than the server's lock wait is a 503, as for a write.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from filelock import Timeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ..errors import CollectionError, InvalidParameterError
from .auth import TokenCheck
from .state import Busy, Served

DISABLED = "snapshots are disabled: this server was started without a snapshot folder (aer serve --snapshot-dir DIR)"


class SnapshotOut(BaseModel):
    name: str = Field(description="The snapshot's file name in the server's snapshot folder.")
    size: int = Field(description="Bytes of the snapshot file.")
    items: int = Field(description="Items the snapshot holds.")
    created: str = Field(description="When it was taken (ISO 8601, UTC).")


def snapshot_folder(folder: str | Path, collections: list[Path] | None = None) -> Path:
    """``folder`` made ready to take snapshots (created if missing), absolute; refused when it is not a folder
    or lies inside one of ``collections``."""
    path = Path(folder).resolve()
    for collection in collections or []:
        if path.is_relative_to(collection.resolve()):
            raise InvalidParameterError(f"the snapshot folder {folder} lies inside the collection {collection}; "
                                        "give a folder outside it")  # fmt: skip
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(f"the snapshot folder {folder} cannot be made ({exc.strerror or exc})") from exc
    return path


def enable_snapshots(app: Any, folder: str | Path) -> Path:
    """Let ``POST /snapshot`` of ``app`` (one ``create_app`` app, or several collections' ``create_server_app``)
    write to ``folder``; return it, absolute."""
    apps = list(getattr(app, "apps", {}).values()) or [app]
    ready = snapshot_folder(folder, [sub.state.served.path for sub in apps])
    for sub in apps:
        sub.state.snapshot_dir = ready
    return ready


def file_name(served: Served) -> str:
    """A new snapshot's name: the collection's name (only file-safe characters), the UTC time, a random part."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", served.name).strip(".") or "collection"
    return f"{stem}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}.tar.gz"


def snapshot_router(served: Served, token: TokenCheck) -> APIRouter:
    """``POST /snapshot`` over ``served``, behind the write ``token``."""
    router = APIRouter(dependencies=[Depends(token)])

    @router.post("/snapshot", response_model=SnapshotOut, summary="Write the collection to a new snapshot file "
                 "in the server's snapshot folder")  # fmt: skip
    def take_snapshot(request: Request) -> dict[str, Any]:
        from ..collection.snapshot import snapshot  # tarfile, sqlite3: only when a snapshot is taken

        folder: Path | None = getattr(request.app.state, "snapshot_dir", None)
        if folder is None:
            raise HTTPException(403, DISABLED)
        served.check_present()
        try:
            made = snapshot(served.path, folder / file_name(served), db=served.db, lock_timeout=served.lock_wait_s)
        except CollectionError as exc:
            if isinstance(exc.__cause__, Timeout):
                raise Busy(f"{served.name}: another process is writing to this collection (its lock has been held "
                           f"for over {served.lock_wait_s:g} s); try the snapshot again when it has finished") from exc
            raise
        return {"name": made.file.name, "size": made.size, "items": made.items, "created": made.created}

    return router

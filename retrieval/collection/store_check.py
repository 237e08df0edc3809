"""Checking a metadata store's own bytes (``aer verify``): SQLite's ``PRAGMA integrity_check``, and every item
row read back, so a damaged one is named by its key instead of failing a search later.

SQLite stores whatever bytes it is given as text; a flipped bit can leave a value that is not UTF-8, which
``integrity_check`` does not see and Python's driver cannot decode. Rows are therefore read as bytes here.
PostgreSQL refuses text that is not valid in its encoding and checks its own pages, so there the rows are
read as they are (one pass, no page-level check). ``storage_errno`` tells a full disk from other write failures.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..errors import CollectionError

TEXT_COLUMNS = ("item_id", "source", "label", "snippet")
MAX_NAMED = 5  # damaged rows named one by one; more are counted


def integrity_problems(engine: Engine) -> tuple[list[str], str]:
    """What the database's own check finds (an empty list: none), and what was checked."""
    if engine.dialect.name != "sqlite":
        return [], f"{engine.dialect.name}: page checks are the server's (not run)"
    try:
        with engine.connect() as conn:
            found = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
    except DBAPIError as exc:
        return [f"store: SQLite cannot check the file ({exc.orig})"], "integrity_check"
    if found == ["ok"]:
        return [], "integrity_check"
    shown = "; ".join(found[:MAX_NAMED]) + (f"; and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else "")
    return [f"store: SQLite's integrity_check finds damage: {shown}"], "integrity_check"


def damaged_rows(engine: Engine, keys: list[int] | None = None) -> list[str]:
    """Each item row (of ``keys``, or every one) whose text is not readable, as 'key K (id ...): why'."""
    sqlite = engine.dialect.name == "sqlite"
    columns = ", ".join(f"CAST({c} AS BLOB)" if sqlite else c for c in TEXT_COLUMNS)
    query = f"SELECT key, {columns} FROM items"
    if keys is not None:
        query += f" WHERE key IN ({', '.join(str(int(k)) for k in keys) or 'NULL'})"
    problems = []
    with engine.connect() as conn:
        for key, *values in conn.execute(text(query)):
            if why := _row_problem(values):
                problems.append(f"key {key} (id {_shown(values[0])}): {why}")
    return problems


def float_code_problems(engine: Engine, width: int) -> list[str]:
    """What is wrong with a collection's kept float codes (``floats``): items without one, codes of another size
    than ``width`` float32s, codes of no item (an empty list: none)."""
    item_id = "CAST(i.item_id AS BLOB)" if engine.dialect.name == "sqlite" else "i.item_id"
    missing_q = "FROM items i LEFT JOIN float_codes f ON f.key = i.key WHERE f.key IS NULL"
    problems = []
    with engine.connect() as conn:
        missing = conn.execute(text(f"SELECT count(*) {missing_q}")).scalar_one()
        if missing:
            key, name = conn.execute(text(f"SELECT i.key, {item_id} {missing_q} ORDER BY i.key LIMIT 1")).one()
            problems.append(f"{missing:,} items have no float code, e.g. key {key} (id {_shown(name)}) (add them "
                            "again from their source to re-encode them)")  # fmt: skip
        size = conn.execute(text("SELECT count(*) FROM float_codes WHERE length(code) != :n"), {"n": 4 * width})
        if wrong := size.scalar_one():
            problems.append(f"{wrong:,} float codes are not {width} float32s (damaged; searches rank those items last)")
        orphans = "SELECT count(*) FROM float_codes WHERE key NOT IN (SELECT key FROM items)"
        if extra := conn.execute(text(orphans)).scalar_one():
            problems.append(f"{extra:,} float codes belong to no item")
    return problems


def _row_problem(values: list[object]) -> str | None:
    for column, value in zip(TEXT_COLUMNS, values):
        if value is None:
            if column == "item_id":
                return "no id"
            continue
        if isinstance(value, bytes):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"its {column} is not valid UTF-8 (byte {exc.start})"
    return None


def _shown(value: object) -> str:
    if isinstance(value, bytes):
        return repr(value.decode("utf-8", errors="backslashreplace"))
    return repr(value)


_SQLITE_ERRNOS = {13: errno.ENOSPC, 10: errno.EIO}  # SQLITE_FULL, SQLITE_IOERR (primary result codes)
_SQLSTATE_ERRNOS = {"53100": errno.ENOSPC, "58030": errno.EIO}  # PostgreSQL: disk_full, io_error


def storage_errno(orig: BaseException | None) -> int | None:
    """The errno of a database error that is the disk's fault (full, I/O error), else ``None``."""
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return _SQLITE_ERRNOS.get(sqlite_code & 0xFF)
    return _SQLSTATE_ERRNOS.get(getattr(orig, "sqlstate", None) or "")


def is_decode_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the driver failing to decode stored text (SQLite: 'Could not decode to UTF-8')."""
    return "could not decode" in str(exc).lower()


@contextlib.contextmanager
def decoding(engine: Engine, keys: list[int] | None = None) -> Iterator[None]:
    """Reading rows (of ``keys``): a stored text the driver cannot decode is a ``CollectionError`` naming its key."""
    try:
        yield
    except Exception as exc:
        if not is_decode_error(exc):
            raise
        rows = damaged_rows(engine, keys) or ["a row that cannot be decoded"]
        raise CollectionError(f"the metadata store holds a damaged item: {rows[0]} (aer verify tells more)") from exc

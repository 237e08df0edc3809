"""A metadata database's address and files: URLs (made explicit, or with the password masked), the embedded
SQLite file's checks, pragmas and size. Kept apart from ``store`` (the tables and what is read and written);
SQLAlchemy is imported where a URL is parsed, so ``aer info`` can measure the SQLite file without it."""

from __future__ import annotations

from pathlib import Path

from ..errors import CollectionError

WAL = "-wal"  # the suffix of the write-ahead log SQLite keeps beside the file (its -shm index holds no data)


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def database_url(url: str) -> str:
    """``url`` with PostgreSQL's driver made explicit (psycopg 3); a bad URL is a clear error."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a non-numeric port fails here, not at connect time
    except (ArgumentError, ValueError) as exc:
        raise CollectionError(f"not a database URL: {url!r} (e.g. postgresql://user@host:5432/dbname)") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """``url`` with any password masked, for messages and the manifest."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite ``url`` (``None``: another database, or SQLite in memory)."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def sqlite_size(file: Path) -> int:
    """Bytes an SQLite database holds on disk: its file and the write-ahead log beside it."""
    return sum(p.stat().st_size for p in (file, file.with_name(file.name + WAL)) if p.is_file())


def check_sqlite_file(url: str) -> None:
    """An embedded store's file must exist and hold something: SQLite would make an empty one silently."""
    file = sqlite_file(url)
    if file is not None and (not file.is_file() or file.stat().st_size == 0):
        state = "is missing" if not file.exists() else "is empty"
        raise CollectionError(f"{file}: the collection's metadata store {state}; nothing was changed")


def sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()

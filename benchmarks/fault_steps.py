"""How ``fault_injection.py`` makes a write fail at one step: every ``os.fsync``, ``os.replace``, ``os.link``, faiss
``write_index``, store statement (INSERT / UPDATE / DELETE) and COMMIT of this process goes through an ``Injector``,
which counts them and raises at the N-th; and a really full SQLite file (``PRAGMA max_page_count``)."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faiss
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect

# the errors each kind of step can meet
ERRORS = {"fsync": ("ENOSPC", "EIO"), "replace": ("ENOSPC", "EIO"), "link": ("ENOSPC", "EIO"),
          "faiss": ("ENOSPC", "EIO", "no-errno"), "sql": ("SQLITE_FULL", "SQLITE_IOERR"),
          "commit": ("SQLITE_FULL", "SQLITE_IOERR")}  # fmt: skip
DISK_FULL = {"ENOSPC", "SQLITE_FULL", "max_page_count"}  # the errors a server answers 507
SQLITE = {"SQLITE_FULL": (13, "database or disk is full"), "SQLITE_IOERR": (10, "disk I/O error")}


class Injector:
    """Counts write steps (``steps``: their kinds in order); raises ``error`` at the ``fail_at``-th if it is a step
    of ``kind`` (``fail_at`` ``None``: only count). ``fired``: the kind of the step that failed, if one did."""

    def __init__(self, fail_at: int | None = None, error: str = "", kind: str = "") -> None:
        self.fail_at, self.error, self.kind = fail_at, error, kind
        self.steps: list[str] = []
        self.fired = ""

    def step(self, kind: str, path: str = "") -> None:
        self.steps.append(kind)
        if len(self.steps) == self.fail_at and kind == self.kind:
            self.fired = kind
            raise self.exception(kind, path)

    def exception(self, kind: str, path: str) -> BaseException:
        """What the step fails with: what the OS, SQLite's driver or faiss raise for ``self.error``."""
        if kind in ("sql", "commit"):
            code, words = SQLITE[self.error]
            exc = sqlite3.OperationalError(words)
            exc.sqlite_errorcode = code  # as sqlite3 sets it on the errors it raises
            return exc
        if kind == "faiss":
            if self.error == "no-errno":
                return RuntimeError("Error in void faiss::write_index(const Index*, IOWriter*): unexpected failure")
            code = getattr(errno, self.error)
            return RuntimeError(f"Error in faiss::write_index: write error in {path}: {code} ({os.strerror(code)})")
        code = getattr(errno, self.error)
        return OSError(code, os.strerror(code))


@contextlib.contextmanager
def injecting(inj: Injector) -> Iterator[None]:
    """Route every write step of this process (all threads) through ``inj`` while the block runs."""
    real = {"fsync": os.fsync, "replace": os.replace, "link": os.link, "commit": DefaultDialect.do_commit,
            "write_index": faiss.write_index, "write_index_binary": faiss.write_index_binary}  # fmt: skip

    def on_os(kind: str) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            inj.step(kind)
            return real[kind](*args, **kwargs)

        return call

    def on_faiss(name: str) -> Callable:
        def call(index: Any, path: Any, *args: Any) -> Any:
            try:
                inj.step("faiss", str(path))
            except RuntimeError:
                Path(path).write_bytes(b"partial")  # what a write cut short leaves
                raise
            return real[name](index, path, *args)

        return call

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            inj.step("sql")

    def commit(self: DefaultDialect, dbapi_conn: Any) -> None:
        inj.step("commit")
        real["commit"](self, dbapi_conn)

    os.fsync, os.replace, os.link = on_os("fsync"), on_os("replace"), on_os("link")
    faiss.write_index, faiss.write_index_binary = on_faiss("write_index"), on_faiss("write_index_binary")
    DefaultDialect.do_commit = commit
    event.listen(Engine, "before_cursor_execute", statement)
    try:
        yield
    finally:
        os.fsync, os.replace, os.link = real["fsync"], real["replace"], real["link"]
        faiss.write_index, faiss.write_index_binary = real["write_index"], real["write_index_binary"]
        DefaultDialect.do_commit = real["commit"]
        event.remove(Engine, "before_cursor_execute", statement)


def full_store(engine: Engine) -> Callable[[], None]:
    """The SQLite file behind ``engine`` cannot grow from now on (``PRAGMA max_page_count``): an insert that needs
    a page is "database or disk is full". Return what undoes it."""
    raw = engine.raw_connection()
    (pages,) = raw.cursor().execute("PRAGMA page_count").fetchone()
    raw.close()
    engine.dispose()

    def cap(conn: Any, _record: Any) -> None:
        conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", cap)

    def undo() -> None:
        event.remove(engine, "connect", cap)
        engine.dispose()

    return undo

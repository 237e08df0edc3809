"""Item metadata in SQL through SQLAlchemy 2: SQLite inside the collection by default, PostgreSQL by URL.

The schema is versioned: ``meta.schema_version`` says which version a database has, and ``MIGRATIONS``
upgrade it one step at a time, each step in its own transaction, when a store is opened. A database written
by a newer version of this package is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import LargeBinary, bindparam, cast, create_engine, delete, event, func, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from ..batching import batched
from ..errors import CollectionError, StorageError
from .database import check_sqlite_file, database_url, safe_url, sqlite_file, sqlite_pragmas, sqlite_size
from .database import sqlite_url as sqlite_url  # re-exported: where callers have long found it
from .store_check import decoding, storage_errno
from .tables import MIGRATIONS, SCHEMA_VERSION, Base, FloatRow, ItemRow, MetaRow, TextRow, ThumbnailRow

NEXT_KEY = "next_key"  # the meta row that keeps the key counter
THUMBNAIL_SHAPE = (32, 32, 3)  # an image item's stored pixels
_IN_CHUNK = 500  # ids per IN (...) clause, well under SQLite's bound-parameter limit


# Built once: the query path's statement (re-building it per search cost more than running it).
_BY_KEYS = select(ItemRow.key, ItemRow.item_id, ItemRow.source, ItemRow.label, ItemRow.snippet).where(
    ItemRow.key.in_(bindparam("keys", expanding=True))
)


_BY_KEYS_SQL = "SELECT key, item_id, source, label, snippet FROM items WHERE key IN ({})"
_FLOATS = select(FloatRow.key, FloatRow.code).where(FloatRow.key.in_(bindparam("keys", expanding=True)))
_FLOATS_SQL = "SELECT key, code FROM float_codes WHERE key IN ({})"
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # by the DB-API driver's paramstyle


class ItemRecord(NamedTuple):
    """What the store knows of one item; ``key`` is its position key in the index (a named tuple: the query
    path makes one per hit)."""

    key: int
    id: str
    source: str
    label: str | None
    snippet: str
    outlier_score: float | None = None  # reconstruction error under the collection's autoencoder
    text: str | None = None  # the whole text, where kept (written by ``upsert``; read by ``texts``, not ``by_keys``)


class MetadataStore:
    """Items by id and by index key. Writes happen in one transaction per call."""

    def __init__(self, url: str, collection_id: str | None = None, *, create: bool = False) -> None:
        """Open the store at ``url``, upgrading an older schema; with ``create``, make its tables first.

        ``collection_id``: the id the collection's manifest records; a database that holds another
        collection's items is refused (one collection per PostgreSQL database). Without ``create``, a
        database with no ae-retrieval tables (a mistyped URL, a lost or empty ``metadata.sqlite``) is refused
        and left as it was: opening never makes tables in a database it did not make.
        """
        self.url = database_url(url)
        if not create:
            check_sqlite_file(self.url)
        try:
            self.engine: Engine = create_engine(self.url)
        except (NoSuchModuleError, ImportError) as exc:
            raise CollectionError(
                f"{safe_url(url)}: no driver for this database ({exc}); "
                "for PostgreSQL: pip install 'ae-retrieval[postgres]'"
            ) from exc
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", sqlite_pragmas)
        try:
            self._prepare(collection_id, create)
        except OperationalError as exc:
            raise CollectionError(f"{safe_url(url)}: cannot open the metadata database ({exc.orig})") from exc
        except DatabaseError as exc:  # e.g. a damaged SQLite file
            raise CollectionError(f"{safe_url(url)}: not a readable metadata database ({exc.orig})") from exc

    def _prepare(self, collection_id: str | None, create: bool) -> None:
        fresh = not inspect(self.engine).has_table(MetaRow.__tablename__)
        if fresh and not create:
            raise CollectionError(
                f"{safe_url(self.url)}: holds no ae-retrieval metadata (a wrong database, or the collection's "
                "metadata store is missing); nothing was changed"
            )
        with self.engine.begin() as conn:
            Base.metadata.create_all(conn)
            if fresh:
                conn.execute(insert(MetaRow), [{"name": "schema_version", "value": str(SCHEMA_VERSION)}])
            version = int(conn.scalar(select(MetaRow.value).where(MetaRow.name == "schema_version")) or 1)
        if version > SCHEMA_VERSION:
            raise CollectionError(
                f"{safe_url(self.url)}: metadata schema version {version} was written by a newer ae-retrieval "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade ae-retrieval"
            )
        for step in range(version, SCHEMA_VERSION):
            with self.engine.begin() as conn:
                MIGRATIONS[step](conn)
                conn.execute(
                    MetaRow.__table__.update().where(MetaRow.name == "schema_version"), {"value": str(step + 1)}
                )
        if collection_id is not None:
            self._claim(collection_id)

    def _claim(self, collection_id: str) -> None:
        with self.engine.begin() as conn:
            owner = conn.scalar(select(MetaRow.value).where(MetaRow.name == "collection_id"))
            if owner is None:
                if conn.scalar(select(func.count()).select_from(ItemRow)):
                    raise CollectionError(
                        f"{safe_url(self.url)}: this database already holds items of another collection"
                    )
                conn.execute(insert(MetaRow), [{"name": "collection_id", "value": collection_id}])
            elif owner != collection_id:
                raise CollectionError(
                    f"{safe_url(self.url)}: this database holds the metadata of another collection ({owner}), "
                    f"not of this one ({collection_id})"
                )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction; a database that fails it rolls it back, so nothing of the batch is half-written:
        a full disk or an I/O error is a ``StorageError`` (with its errno), anything else a ``CollectionError``."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            message, code = f"{safe_url(self.url)}: cannot write the metadata ({exc.orig})", storage_errno(exc.orig)
            raise (StorageError(message, code) if code else CollectionError(message)) from exc  # full disk: 507

    @property
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(MetaRow.value).where(MetaRow.name == "schema_version")))

    def close(self) -> None:
        self.engine.dispose()

    def count(self) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(ItemRow)) or 0

    def next_key(self) -> int:
        """The first key never given to an item: keys only grow, so a deleted item's key is never reused
        (a reader holding an older index can then never take a new item for the old one)."""
        with self.engine.connect() as conn:
            counter = conn.scalar(select(MetaRow.value).where(MetaRow.name == NEXT_KEY))
            top = conn.scalar(select(func.max(ItemRow.key)))
        return max(int(counter or 0), 0 if top is None else top + 1)

    def keys_of(self, item_ids: Sequence[str]) -> dict[str, int]:
        """Index keys of the ``item_ids`` that are stored."""
        out: dict[str, int] = {}
        with Session(self.engine) as s:
            for chunk in batched(item_ids, _IN_CHUNK):
                out.update(s.execute(select(ItemRow.item_id, ItemRow.key).where(ItemRow.item_id.in_(chunk))).all())
        return out

    def by_keys(self, keys: Iterable[int]) -> dict[int, ItemRecord]:
        """The stored records of ``keys`` (absent keys left out)."""
        return {key: ItemRecord(*row) for key, row in self.rows_by_keys(keys).items()}

    def rows_by_keys(self, keys: Iterable[int]) -> dict[int, tuple]:
        """``(key, id, source, label, snippet)`` rows of ``keys`` (absent keys left out): the query path's one
        read, one round trip, plain tuples (what a search turns into hits)."""
        keys = list(keys)
        with decoding(self.engine, keys):
            return self._rows_by_keys(keys)

    def _rows_by_keys(self, keys: list[int], statement: Any = _BY_KEYS, sql: str = _BY_KEYS_SQL) -> dict[int, tuple]:
        out: dict[int, tuple] = {}
        mark = _PLACEHOLDER.get(self.engine.dialect.paramstyle)
        if mark is None:  # a driver with another parameter style: SQLAlchemy renders the statement
            with self.engine.connect() as conn:
                for chunk in batched(map(int, keys), _IN_CHUNK):
                    out.update((row[0], tuple(row)) for row in conn.execute(statement, {"keys": chunk}))
            return out
        # The DB-API cursor directly: SQLAlchemy's statement and row processing cost 5x the read itself.
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for chunk in batched(map(int, keys), _IN_CHUNK):
                cursor.execute(sql.format(", ".join([mark] * len(chunk))), chunk)
                out.update((row[0], row) for row in cursor.fetchall())
            cursor.close()
            raw.commit()  # end the read transaction a driver may have opened (PostgreSQL's)
        finally:
            raw.close()  # back to the pool
        return out

    def keys_where(self, labels: Sequence[str] | None = None, id_prefix: str | None = None) -> np.ndarray:
        """The keys of the items with one of ``labels`` (``None``: any) whose id starts with ``id_prefix``."""
        q = select(ItemRow.key)
        if labels is not None:
            q = q.where(ItemRow.label.in_(list(labels)))
        if id_prefix:  # substr, not LIKE: exact and case-sensitive on every backend
            q = q.where(func.substr(ItemRow.item_id, 1, len(id_prefix)) == id_prefix)
        with self.engine.connect() as conn:
            rows = conn.execute(q).cursor.fetchall()  # the DB-API rows: a filter can match millions
        return np.array([row[0] for row in rows], dtype=np.int64)

    def item_labels(self) -> dict[int, str | None]:
        """Every item's label by key (for evaluation)."""
        with decoding(self.engine), Session(self.engine) as s:
            return dict(s.execute(select(ItemRow.key, ItemRow.label)).all())

    def label_counts(self) -> dict[str, int]:
        """How many items have each label (no label and an empty one are not labels), most items first, then by name."""
        q = select(ItemRow.label, func.count()).where(ItemRow.label.is_not(None), ItemRow.label != "")
        with decoding(self.engine), self.engine.connect() as conn:
            rows = conn.execute(q.group_by(ItemRow.label)).all()
        return dict(sorted(((label, int(n)) for label, n in rows), key=lambda row: (-row[1], row[0])))

    def labels_present(self, labels: Sequence[str]) -> set[str]:
        """Those of ``labels`` that at least one item has."""
        q = select(ItemRow.label).where(ItemRow.label.in_(list(labels))).distinct()
        with decoding(self.engine), self.engine.connect() as conn:
            return set(conn.execute(q).scalars())

    def upsert(
        self, records: Sequence[ItemRecord], thumbnails: Sequence[bytes] | None = None, next_key: int | None = None,
        float_codes: Sequence[bytes] | None = None,
    ) -> None:  # fmt: skip
        """Insert or replace ``records`` (matched by key), their texts (a record's ``text``, where not ``None``),
        their thumbnails and their float codes (``floats``), in one transaction; ``next_key`` (what ``next_key()``
        returns from then on) is recorded in the same transaction."""
        keys = [r.key for r in records]
        now = time.time()
        items = [{"key": r.key, "item_id": r.id, "source": r.source, "label": r.label, "snippet": r.snippet,
                  "updated_at": now, "outlier_score": r.outlier_score} for r in records]  # fmt: skip
        thumbs = [{"key": r.key, "pixels": p} for r, p in zip(records, thumbnails or ())]
        floats = [{"key": r.key, "code": c} for r, c in zip(records, float_codes or ())]
        texts = [{"key": r.key, "text": r.text} for r in records if r.text is not None]
        # Delete then bulk-insert: one statement per chunk instead of a SELECT per row (as merge() does).
        with self._transaction() as conn:
            for table, rows in ((ItemRow, items), (TextRow, texts), (ThumbnailRow, thumbs), (FloatRow, floats)):
                if not rows and table is not TextRow:  # an item updated without its text keeps none
                    continue
                for chunk in batched(keys, _IN_CHUNK):
                    conn.execute(delete(table).where(table.key.in_(chunk)))
                if rows:
                    conn.execute(insert(table), rows)
            if next_key is not None:
                _set_next_key(conn, next_key)

    def top_outliers(self, k: int) -> list[ItemRecord]:
        """The ``k`` items with the highest outlier scores, highest first (items without a score last)."""
        columns = (ItemRow.key, ItemRow.item_id, ItemRow.source, ItemRow.label, ItemRow.snippet, ItemRow.outlier_score)
        q = select(*columns).where(ItemRow.outlier_score.is_not(None))
        q = q.order_by(ItemRow.outlier_score.desc(), ItemRow.key).limit(k)
        with self.engine.connect() as conn:
            return [ItemRecord(*row) for row in conn.execute(q)]

    def outlier_scores(self) -> dict[str, float]:
        """Every scored item's outlier score by id."""
        with self.engine.connect() as conn:
            q = select(ItemRow.item_id, ItemRow.outlier_score).where(ItemRow.outlier_score.is_not(None))
            return dict(conn.execute(q).all())

    @contextlib.contextmanager
    def deleting(self, keys: Sequence[int]) -> Iterator[None]:
        """Forget the items with ``keys`` (their texts, thumbnails and float codes) in one transaction, committed when
        the block ends (a failure in it rolls the transaction back: nothing forgotten); their keys stay used."""
        keep_counter = self.next_key()
        with self._transaction() as conn:
            _set_next_key(conn, keep_counter)
            for chunk in batched(map(int, keys), _IN_CHUNK):
                for table in (ItemRow, TextRow, ThumbnailRow, FloatRow):
                    conn.execute(delete(table).where(table.key.in_(chunk)))
            yield

    def texts(self, keys: Iterable[int], limit: int | None = None) -> dict[int, str]:
        """The stored texts of ``keys`` (keys without one left out), each cut to its first ``limit`` characters.
        Text that does not decode (a damaged SQLite value) comes back with U+FFFD in place of the bad bytes."""
        column = TextRow.text if limit is None else func.substr(TextRow.text, 1, int(limit))
        if self.engine.dialect.name == "sqlite":  # bytes, decoded here: the driver would refuse the whole read
            column = cast(column, LargeBinary)
        out: dict[int, str] = {}
        with self.engine.connect() as conn:
            for chunk in batched(map(int, keys), _IN_CHUNK):
                for key, value in conn.execute(select(TextRow.key, column).where(TextRow.key.in_(chunk))):
                    out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return out

    def float_codes(self, keys: Iterable[int]) -> dict[int, bytes]:
        """The stored float codes of ``keys`` (keys without one left out), as their bytes (``floats`` reads them):
        one read on the query path, as ``rows_by_keys``."""
        return {key: bytes(row[1]) for key, row in self._rows_by_keys(list(keys), _FLOATS, _FLOATS_SQL).items()}

    def size_on_disk(self) -> int | None:
        """Bytes the database takes: SQLite's file (with its WAL), a PostgreSQL database's own size
        (one collection per database); ``None`` where that cannot be read."""
        file = sqlite_file(self.url)
        if file is not None:
            return sqlite_size(file)
        if self.engine.dialect.name != "postgresql":
            return None
        with self.engine.connect() as conn:
            return int(conn.scalar(text("SELECT pg_database_size(current_database())")))

    def thumbnails(self, keys: Iterable[int]) -> dict[int, bytes]:
        """Stored thumbnail bytes by key (image items only)."""
        out: dict[int, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in batched(map(int, keys), _IN_CHUNK):
                q = select(ThumbnailRow.key, ThumbnailRow.pixels).where(ThumbnailRow.key.in_(chunk))
                out.update(conn.execute(q).all())
        return out

    def thumbnail_pixels(self, keys: Iterable[int]) -> dict[int, np.ndarray]:
        """Stored thumbnails by key as ``THUMBNAIL_SHAPE`` uint8 arrays (keys without one are left out)."""
        return {k: np.frombuffer(b, dtype=np.uint8).reshape(THUMBNAIL_SHAPE) for k, b in self.thumbnails(keys).items()}


def _set_next_key(conn: Connection, value: int) -> None:
    conn.execute(delete(MetaRow).where(MetaRow.name == NEXT_KEY))
    conn.execute(insert(MetaRow), [{"name": NEXT_KEY, "value": str(int(value))}])


def check_new_database(url: str) -> None:
    """Refuse, before any training, a database a new collection cannot use: unreachable, or holding another
    collection's metadata. Nothing is written."""
    try:
        engine = create_engine(database_url(url))
    except (NoSuchModuleError, ImportError) as exc:
        raise CollectionError(f"{safe_url(url)}: no driver for this database ({exc})") from exc
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            owner = items = None
            if found.has_table(MetaRow.__tablename__):
                owner = conn.scalar(select(MetaRow.value).where(MetaRow.name == "collection_id"))
            if found.has_table(ItemRow.__tablename__):
                items = conn.scalar(select(func.count()).select_from(ItemRow))
    except DatabaseError as exc:  # OperationalError included
        raise CollectionError(f"{safe_url(url)}: cannot open the metadata database ({exc.orig})") from exc
    finally:
        engine.dispose()
    if owner is not None or items:
        raise CollectionError(f"{safe_url(url)}: this database already holds the metadata of another collection")

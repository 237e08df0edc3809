"""Item metadata in SQL through SQLAlchemy 2: SQLite inside the collection by default, any URL otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Integer, LargeBinary, String, Text, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

SCHEMA_VERSION = 1
_IN_CHUNK = 500  # ids per IN (...) clause, well under SQLite's bound-parameter limit


class Base(DeclarativeBase):
    pass


class ItemRow(Base):
    __tablename__ = "items"
    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # the FAISS id
    item_id: Mapped[str] = mapped_column(String, unique=True, index=True)
    source: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    snippet: Mapped[str] = mapped_column(Text, default="")


class ThumbnailRow(Base):
    """An image item's 32×32×3 uint8 pixels, so results can be shown without the source."""

    __tablename__ = "thumbnails"
    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pixels: Mapped[bytes] = mapped_column(LargeBinary)


class MetaRow(Base):
    __tablename__ = "meta"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class ItemRecord:
    """What the store knows of one item; ``key`` is its position key in the index."""

    key: int
    id: str
    source: str
    label: str | None
    snippet: str


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class MetadataStore:
    """Items by id and by index key. Writes happen in one transaction per call."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        with Session(self.engine) as s, s.begin():
            if s.get(MetaRow, "schema_version") is None:
                s.add(MetaRow(name="schema_version", value=str(SCHEMA_VERSION)))

    def close(self) -> None:
        self.engine.dispose()

    def count(self) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(ItemRow)) or 0

    def next_key(self) -> int:
        with Session(self.engine) as s:
            top = s.scalar(select(func.max(ItemRow.key)))
        return 0 if top is None else top + 1

    def keys_of(self, item_ids: Sequence[str]) -> dict[str, int]:
        """Index keys of the ``item_ids`` that are stored."""
        out: dict[str, int] = {}
        with Session(self.engine) as s:
            for chunk in _chunks(list(item_ids)):
                out.update(s.execute(select(ItemRow.item_id, ItemRow.key).where(ItemRow.item_id.in_(chunk))).all())
        return out

    def by_keys(self, keys: Iterable[int]) -> dict[int, ItemRecord]:
        out: dict[int, ItemRecord] = {}
        columns = (ItemRow.key, ItemRow.item_id, ItemRow.source, ItemRow.label, ItemRow.snippet)
        with self.engine.connect() as conn:  # plain rows: no ORM objects on the query path
            for chunk in _chunks([int(k) for k in keys]):
                for key, item_id, source, label, snippet in conn.execute(
                    select(*columns).where(ItemRow.key.in_(chunk))
                ):
                    out[key] = ItemRecord(key=key, id=item_id, source=source, label=label, snippet=snippet)
        return out

    def labels(self) -> dict[int, str | None]:
        """Every item's label by key (for evaluation)."""
        with Session(self.engine) as s:
            return dict(s.execute(select(ItemRow.key, ItemRow.label)).all())

    def upsert(self, records: Sequence[ItemRecord], thumbnails: Sequence[bytes] | None = None) -> None:
        """Insert or replace ``records`` (matched by key), and their thumbnails, in one transaction."""
        keys = [r.key for r in records]
        items = [{"key": r.key, "item_id": r.id, "source": r.source, "label": r.label, "snippet": r.snippet}
                 for r in records]  # fmt: skip
        thumbs = [{"key": r.key, "pixels": p} for r, p in zip(records, thumbnails or ())]
        # Delete then bulk-insert: one statement per chunk instead of a SELECT per row (as merge() does).
        with self.engine.begin() as conn:
            for table, rows in ((ItemRow, items), (ThumbnailRow, thumbs)):
                if not rows:
                    continue
                for chunk in _chunks(keys):
                    conn.execute(delete(table).where(table.key.in_(chunk)))
                conn.execute(insert(table), rows)

    def delete(self, keys: Sequence[int]) -> None:
        """Forget the items with ``keys`` (and their thumbnails), in one transaction."""
        with self.engine.begin() as conn:
            for chunk in _chunks([int(k) for k in keys]):
                conn.execute(delete(ItemRow).where(ItemRow.key.in_(chunk)))
                conn.execute(delete(ThumbnailRow).where(ThumbnailRow.key.in_(chunk)))

    def thumbnails(self, keys: Iterable[int]) -> dict[int, bytes]:
        """Stored thumbnail bytes by key (image items only)."""
        out: dict[int, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks([int(k) for k in keys]):
                q = select(ThumbnailRow.key, ThumbnailRow.pixels).where(ThumbnailRow.key.in_(chunk))
                out.update(conn.execute(q).all())
        return out


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _chunks(values: list, size: int = _IN_CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]

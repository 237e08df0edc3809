"""The metadata store's tables (SQLAlchemy 2 declarative) and the migrations that bring an older database's schema
up to ``SCHEMA_VERSION`` one step at a time. What is read and written is ``store``'s business."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, String, Text, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 5
# 64-bit keys; on SQLite, INTEGER PRIMARY KEY (already 64-bit) so that the key is the rowid.
Key = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class ItemRow(Base):
    __tablename__ = "items"
    key: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=False)  # the FAISS id
    item_id: Mapped[str] = mapped_column(String, unique=True, index=True)
    source: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    snippet: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # schema 2: Unix time of the last write
    outlier_score: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)  # schema 3


class TextRow(Base):
    """A text item's whole text (schema 4), where the collection keeps it: what passages are chosen from."""

    __tablename__ = "texts"
    key: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)


class FloatRow(Base):
    """A binary collection's item's real-valued code (schema 5), where the collection keeps them: the float32 bytes
    of the code its bits were made from, what a search re-scores the Hamming candidates with (``floats``)."""

    __tablename__ = "float_codes"
    key: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=False)
    code: Mapped[bytes] = mapped_column(LargeBinary)


class ThumbnailRow(Base):
    """An image item's 32×32×3 uint8 pixels, so results can be shown without the source."""

    __tablename__ = "thumbnails"
    key: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=False)
    pixels: Mapped[bytes] = mapped_column(LargeBinary)


class MetaRow(Base):
    __tablename__ = "meta"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def _add_updated_at(conn: Connection) -> None:
    column_type = Float().compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE items ADD COLUMN updated_at {column_type}"))


def _add_outlier_score(conn: Connection) -> None:
    column_type = Float().compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE items ADD COLUMN outlier_score {column_type}"))
    conn.execute(text("CREATE INDEX ix_items_outlier_score ON items (outlier_score)"))


def _add_texts(conn: Connection) -> None:
    TextRow.__table__.create(conn, checkfirst=True)  # items indexed before it have no text: their snippet stands


def _add_float_codes(conn: Connection) -> None:
    FloatRow.__table__.create(conn, checkfirst=True)  # stays empty unless the collection keeps float codes


# MIGRATIONS[v] upgrades a schema-v database to v + 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _add_updated_at, 2: _add_outlier_score, 3: _add_texts, 4: _add_float_codes,
}  # fmt: skip

"""The collection a server answers from: many readers at once, one writer, other processes' writes picked up.

Readers and writers of this process share one ``Collection`` under a readers-writer lock: a search sees the
state before a write's batch or after it, never half of it. Writes also take the collection's file lock
(``Collection.add`` and ``delete`` do), which serialises them with ``aer add`` in other processes. A watcher
thread reopens the collection when another process has rewritten its index, so readers see those writes too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fasteners
from filelock import Timeout

from ..collection import Collection
from ..collection import directory
from ..errors import CollectionError

log = logging.getLogger("aer.serve")

LOCK_WAIT_S = 3.0  # how long a write waits for another writer before it is answered 503 (or AER_LOCK_TIMEOUT)
REFRESH_S = 1.0  # how often the watcher looks for other processes' writes


def lock_wait_default() -> float:
    """``AER_LOCK_TIMEOUT`` (what every writer of a collection waits), else ``LOCK_WAIT_S``."""
    return float(os.environ.get(directory.LOCK_TIMEOUT_ENV) or LOCK_WAIT_S)


class Busy(CollectionError):
    """Another writer holds the collection; the request may be tried again later (HTTP 503)."""


class CollectionGone(CollectionError):
    """The served collection's directory was deleted or moved while the server ran (HTTP 503)."""


class Served:
    """One open collection shared by the server's threads: ``reading()`` and ``writing()`` hand it out."""

    def __init__(
        self,
        path: str | Path,
        *,
        db: str | None = None,
        device: str = "cpu",
        lock_wait_s: float | None = None,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.path = Path(path)
        self.db = db
        self.device = device
        self.lock_wait_s = lock_wait_s if lock_wait_s is not None else lock_wait_default()
        self.refresh_s = refresh_s
        self._col = Collection.open(self.path, device=device, db=db)
        self.modality = self._col.modality  # fixed when the collection was made
        self._rw = fasteners.ReaderWriterLock()
        self._writer = threading.Lock()  # one writer of this process at a time (the refresh counts as one)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._last_problem = ""

    @property
    def name(self) -> str:
        """The collection's directory name: what a client is told instead of the server's path."""
        return self.path.name or self.path.resolve().name

    def brief(self) -> dict[str, Any]:
        """The collection in a few words: ``modality``, ``items``, ``encoder`` (its ``describe()``)."""
        with self.reading() as col:
            return {"modality": self.modality, "items": len(col), "encoder": col.encoder.describe()}

    def gone(self) -> bool:
        """Whether the collection's manifest has disappeared from disk (its directory deleted or moved)."""
        return not directory.is_collection(self.path)

    def gone_error(self) -> CollectionGone:
        """What a request is answered once the collection is gone (its name, never its path)."""
        return CollectionGone(
            f"the collection is gone: {self.name} was deleted or moved while this server ran; nothing was changed "
            "(put it back, or restart the server on a collection)"
        )

    def check_present(self) -> None:
        """Raise ``CollectionGone`` when the collection is no longer on disk."""
        if self.gone():
            raise self.gone_error()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Collection]:
        """The collection, for reading; any number of threads at once, none while a write is applied.
        ``CollectionGone`` once the collection has been deleted: what is still in memory is not served."""
        self.check_present()
        with self._rw.read_lock():
            yield self._col

    def write_pending(self) -> bool:
        """Whether a write of this server (or the refresh) holds or awaits the collection: a read now may wait."""
        return self._writer.locked()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Collection]:
        """The collection, for one write; ``Busy`` when another writer keeps it for over ``lock_wait_s``.

        Readers are held off only once the file lock has been seen free, so a long ``aer add`` elsewhere
        makes API writes wait (then fail with 503), never API searches. ``CollectionGone`` once the collection
        has been deleted (nothing is written, no lock file recreates its directory)."""
        self.check_present()
        if not self._writer.acquire(timeout=self.lock_wait_s):
            raise Busy("another write to this collection is in progress on this server; try again shortly")
        try:
            self._await_file_lock()
            try:
                with self._rw.write_lock():
                    yield self._col
            except CollectionError as exc:
                if isinstance(exc.__cause__, Timeout):  # another process took the lock in between
                    raise Busy(str(exc)) from exc
                raise
        finally:
            self._writer.release()

    def _await_file_lock(self) -> None:
        try:
            with directory.write_lock(self.path, timeout=self.lock_wait_s):
                pass
        except CollectionError as exc:
            if not isinstance(exc.__cause__, Timeout):
                raise
            raise Busy(  # the collection's name only: a client is not told the server's paths
                f"{self.path.name}: another process is writing to this collection (its lock has been held "
                f"for over {self.lock_wait_s:g} s); try again when it has finished"
            ) from exc

    # --- other processes' writes ---------------------------------------------------------

    def stale(self) -> bool:
        """Whether another process rewrote the index since this server opened (or last wrote) it."""
        try:
            return self._col.stale()
        except OSError:
            return False

    def refresh(self) -> bool:
        """Reopen the collection if another process wrote to it; ``True`` when the served one was replaced.

        It is opened while holding the file lock, so never between a writer's index write and its store
        commit; when another process holds the lock (mid-batch), nothing is done until the next look."""
        if not self.stale() or not self._writer.acquire(blocking=False):
            return False
        try:
            try:
                with directory.write_lock(self.path, timeout=0):
                    if not self.stale():
                        return False
                    fresh = Collection.open(self.path, device=self.device, db=self.db)
            except CollectionError as exc:
                if isinstance(exc.__cause__, Timeout):  # another process is mid-write: look again later
                    return False
                raise
            with self._rw.write_lock():
                old, self._col = self._col, fresh
            old.close()
            log.info("%s: reopened after another process's write (%d items)", self.path, len(fresh))
            return True
        finally:
            self._writer.release()

    def _watch(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.check_present()  # put back, it is served again (reopened when its index file is another)
                self.refresh()
                self._last_problem = ""
            except Exception as exc:  # keep serving what was opened; say so once per distinct problem
                if str(exc) != self._last_problem:
                    why = "" if isinstance(exc, CollectionGone) else "cannot reopen after another process's write: "
                    log.warning("%s: %s%s", self.path, why, exc)
                    self._last_problem = str(exc)

    def start(self) -> None:
        """Start the watcher thread (``refresh_s`` <= 0: never look for other processes' writes)."""
        if self.refresh_s > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="aer-refresh", daemon=True)
            self._watcher.start()

    def close(self) -> None:
        """Stop the watcher and close the collection."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._rw.write_lock():
            self._col.close()

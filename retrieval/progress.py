"""Progress of the long stages (reading, training, encoding), on stderr.

On a terminal, a live tqdm bar that clears itself when its stage ends. Anywhere else (a pipe, a log file, CI)
no redraws: one line when the stage ends, e.g. ``training: done, 40 epochs, 2.1 s, loss 0.0123`` or
``reading: stopped after 1,200 items, 0.4 s``. Every bar, live or not, is closed by :func:`close_all` before
an error is reported, so an error message starts on a line of its own.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import Iterable, Iterator, Sized
from typing import Any, Protocol



class Bar(Protocol):
    """What this package asks of a progress bar (tqdm's and :class:`Stage` both have it)."""

    def __iter__(self) -> Iterator[Any]: ...
    def update(self, n: int = 1) -> Any: ...
    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: Any) -> Any: ...


_open: weakref.WeakSet[Bar] = weakref.WeakSet()  # bars not yet closed


def bar(
    iterable: Iterable[Any] | None = None,
    *,
    desc: str,
    total: int | None = None,
    unit: str = "item",
    enabled: bool = True,
    **tqdm_options: Any,
) -> Bar:
    """A progress bar over ``iterable`` (or updated by hand: ``update(n)``), for the stage ``desc`` counting
    ``unit`` (singular): tqdm's when stderr is a terminal, else a :class:`Stage` that prints one line when it
    ends; nothing at all unless ``enabled``. ``tqdm_options`` (e.g. ``smoothing``) go to tqdm only. Either
    supports what this package uses: iteration, ``update``, ``set_postfix``, ``close`` and ``with``."""
    if enabled and sys.stderr.isatty():
        from tqdm.auto import tqdm

        live = tqdm(iterable, desc=desc, total=total, unit=f" {unit}s", leave=False, file=sys.stderr, **tqdm_options)
        _open.add(live)
        return live
    return Stage(iterable, desc=desc, total=total, unit=unit, announce=enabled)


def close_all() -> None:
    """Close every bar still open: an error is about to be printed (a live bar's line is cleared first; a
    :class:`Stage` says where its stage stopped)."""
    for open_bar in list(_open):
        if isinstance(open_bar, Stage):
            open_bar.failed = True
        open_bar.close()


class Stage:
    """A stage's progress without redraws: counts what passes (or what ``update`` reports) and, when it ends,
    prints ``desc: done, N units, T s`` (or ``desc: stopped after N of M units, T s``) to stderr, once, if
    ``announce``. It is done when its iterable is exhausted, or (updated by hand) when it is closed with
    ``total`` reached and no error."""

    def __init__(
        self, iterable: Iterable[Any] | None, *, desc: str, total: int | None, unit: str, announce: bool = True
    ) -> None:
        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        self.iterable, self.desc, self.total, self.unit, self.announce = iterable, desc, total, unit, announce
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self.closed = self.failed = self._exhausted = False
        self._start = time.perf_counter()
        _open.add(self)

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError(f"the {self.desc!r} progress bar was made without an iterable")
        try:
            for item in self.iterable:
                self.n += 1
                yield item
            self._exhausted = True
        finally:  # exhausted, or the loop over it ended early (break, an error)
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        _open.discard(self)
        if self.announce and sys.stderr is not None:
            print(self.line(), file=sys.stderr, flush=True)

    @property
    def done(self) -> bool:
        if self.failed:
            return False
        if self.iterable is not None:
            return self._exhausted
        return self.total is None or self.n >= self.total

    def line(self) -> str:
        """``training: done, 40 epochs, 2.1 s, loss 0.0123``: what :meth:`close` prints."""
        if self.done:
            state, count = "done,", f"{self.n:,}"
        else:
            state, count = "stopped after", f"{self.n:,}" + (f" of {self.total:,}" if self.total is not None else "")
        plural = count != "1"
        extra = "".join(f", {key} {value}" for key, value in self.postfix.items())
        elapsed = time.perf_counter() - self._start
        return f"{self.desc}: {state} {count} {self.unit}{'s' if plural else ''}, {elapsed:.1f} s{extra}"

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        self.failed = self.failed or exc_type is not None
        self.close()

    def __del__(self) -> None:  # a loop that stopped early without closing its bar: say so when the bar goes
        try:
            self.close()
        except Exception:  # at interpreter shutdown stderr may be gone
            pass

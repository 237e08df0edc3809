"""uvicorn's HTTP/1.1 protocols with a deadline for a request's headers.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but not one that was opened and
then sent nothing, or part of a request line and then stalled (a "slowloris"): each would be held for as long
as the client liked. Here a connection whose next request's headers have not all arrived
``HEADER_TIMEOUT_S`` after it opened (or after its previous response) is closed. A request's body has its own
deadline, in the app (``limits.BodyLimit``).

``HeaderTimeoutHttpTools`` is uvicorn's httptools protocol (its parser in C: less of the server's time per
request than h11's, in Python) with the deadline; ``HeaderTimeoutH11``, h11's. ``HeaderTimeoutHTTP`` is the
first where httptools is installed, else the second: what ``aer serve`` runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0


class HeaderTimeout:
    """The deadline for a request's headers (see the module), mixed into one of uvicorn's protocol classes."""

    header_timeout_s = HEADER_TIMEOUT_S
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._before: Any = None  # the request cycle that was current when the timer was set

    def _arm(self) -> None:
        self._disarm()
        self._before = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        waiting = self.cycle is self._before and (self.cycle is None or self.cycle.response_complete)
        if waiting and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not self._before:  # a new request's headers are in: its body has its own deadline
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


class HeaderTimeoutH11(HeaderTimeout, H11Protocol):
    """``H11Protocol`` closing a connection whose request headers are late (see the module); pass the class as
    uvicorn's ``http`` setting."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed
    HeaderTimeoutHTTP: type = HeaderTimeoutH11
else:

    class HeaderTimeoutHttpTools(HeaderTimeout, HttpToolsProtocol):
        """``HttpToolsProtocol`` closing a connection whose request headers are late (see the module)."""

    HeaderTimeoutHTTP = HeaderTimeoutHttpTools

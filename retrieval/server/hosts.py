"""The ``Host`` header a request may carry: a guard against DNS rebinding.

A web page on another site can point its own host name at 127.0.0.1 and then read, as the same origin, what a
server on this machine answers. The browser still sends that site's name in ``Host``, so a server that answers
only to the names it is reached by (by default ``localhost``, ``127.0.0.1`` and ``[::1]``, on any port) gives
such a page nothing but a 400.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidParameterError
from .errors import error_response

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY = "*"  # every host name: the check is off (behind a proxy that checks Host itself)

_HOST_HEADER = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[^\s:/@\[\]]+))(?::\d{1,5})?", re.I)


def host_name(value: str) -> str | None:
    """The host a ``Host`` header (or an ``--allow-host`` value) names: lower case, no port, no brackets, no
    trailing dot, an IPv6 address in its short form; ``None`` when it is not one."""
    value = value.strip()
    found = _HOST_HEADER.fullmatch(value)
    v6 = found["v6"] if found else value if value.count(":") >= 2 else None  # [::1]:8000, or a bare ::1
    if v6 is not None:
        try:
            return str(ipaddress.IPv6Address(v6))
        except ValueError:
            return None
    if found is None:
        return None
    return found["name"].lower().rstrip(".") or None


def allowed_names(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """``LOCAL_HOSTS`` and the ``extra`` names (``*``: any host; ``*.example.org``: its subdomains), checked."""
    names = list(LOCAL_HOSTS)
    for given in extra:
        given = given.strip()
        if given == ANY or given.startswith("*."):
            name = given.lower()
        else:
            name = host_name(given) or ""
        if not name or (name.startswith("*.") and host_name(name[2:]) is None):
            raise InvalidParameterError(f"allowed host {given!r}: not a host name or address (e.g. example.org)")
        if name not in names:
            names.append(name)
    return tuple(names)


def _shown(name: str) -> str:
    return f"[{name}]" if ":" in name else name


class HostCheck:
    """ASGI middleware: answer 400 ``bad_host`` to a request whose ``Host`` is not one of ``allowed``."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = LOCAL_HOSTS) -> None:
        self.app = app
        self.allowed = allowed_names(allowed)
        self.any = ANY in self.allowed

    def accepts(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header is answered."""
        if self.any:
            return True
        name = host_name(host) if host else None
        if name is None:
            return False
        return name in self.allowed or any(a.startswith("*.") and name.endswith(a[1:]) for a in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self.accepts(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        listed = ", ".join(_shown(a) for a in self.allowed)
        if host:
            shown = repr(host[:100])
            message = (f"this server does not answer to the host name {shown} (a guard against DNS rebinding); "
                       f"it answers to {listed}; start it with --allow-host NAME to add a name")  # fmt: skip
        else:
            message = f"the request has no Host header; this server answers to {listed}"
        await error_response(400, "bad_host", message)(scope, receive, send)

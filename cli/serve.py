"""``aer serve DIR...``: collections behind an HTTP API and a search page (several: each under ``/c/{name}/``)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import click

from .command import AerCommand
from .common import db_option, device_option, library_errors

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::")  # every interface: clients use names this machine cannot know
KEEP_ALIVE_S = 5  # an idle connection is closed after this
MAX_CONNECTIONS = 256  # connections and requests at once; more are answered 503 (well under a 1,024-file limit)
SHUTDOWN_S = 10  # Ctrl-C waits this long for requests in flight


@click.command("serve", cls=AerCommand)
@click.argument("collections", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; anyone who can reach it can search).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Writes need this file's token as 'Authorization: Bearer <token>' (default: AER_API_TOKEN; "
              "neither: writes are refused).")  # fmt: skip
@click.option("--read-token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Reads need this file's token, or the write token, as 'Authorization: Bearer <token>' "
              "(default: AER_READ_TOKEN; neither: anyone who reaches the server reads). The page and /docs stay "
              "open.")  # fmt: skip
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests whose Host header names NAME (repeatable; '*.example.org': its subdomains; "
              "'*': any). localhost, 127.0.0.1, [::1] and --host are always answered; any other name gets 400 "
              "(a guard against DNS rebinding).")  # fmt: skip
@click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Seconds a client may take to send a request's body, then 408 (default: 60).")  # fmt: skip
@click.option("--snapshot-dir", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="POST /snapshot (write token) writes the collection to a new file in DIR (made if missing); "
              "without it the route is refused.")  # fmt: skip
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="The server's log (info: one line per request).")  # fmt: skip
@db_option
@device_option
@library_errors
def serve_cmd(collections: tuple[Path, ...], host: str, port: int, token_file: Path | None,
              read_token_file: Path | None, allow_hosts: tuple[str, ...], body_timeout: float | None,
              snapshot_dir: Path | None, log_level: str, db: str | None, device: str) -> None:  # fmt: skip
    """Serve each COLLECTION: a JSON API (its OpenAPI page at /docs) and a search page at /.

    Several collections: each under /c/NAME/ (NAME: its directory's stem, news for data/news.aer), listed by
    GET /collections; with one, its routes answer at / as well."""
    check_port(host, port)  # before loading the collection, and before announcing the address
    import uvicorn

    from retrieval.server import READ_TOKEN_ENV, create_server_app, read_token, token_from
    from retrieval.server.protocol import HeaderTimeoutHTTP

    token = read_token(token_file)
    reads = token_from(read_token_file, READ_TOKEN_ENV)
    hosts = allow_hosts if host in LOOPBACK else (host, *allow_hosts)
    timeouts = {} if body_timeout is None else {"body_timeout_s": body_timeout}  # else the app's, BODY_TIMEOUT_S
    app = create_server_app(collections, db=db, token=token, read_token=reads, device=device, allowed_hosts=hosts,
                            **timeouts)  # fmt: skip
    if snapshot_dir is not None:
        from retrieval.server.snapshots import enable_snapshots

        click.echo(f"snapshots (POST /snapshot) go to {enable_snapshots(app, snapshot_dir)}", err=True)
    writes = "writes need the token" if token else "read-only: no token (AER_API_TOKEN or --token-file)"
    if reads:
        writes += "; reads need the read token or the write token"
    shown = f"[{host}]" if ":" in host else host
    if len(collections) == 1:
        click.echo(f"serving {collections[0]} at http://{shown}:{port}/ ({writes})", err=True)
    else:
        for name, path in zip(app.apps, collections):
            click.echo(f"serving {path} at http://{shown}:{port}/c/{name}/", err=True)
        click.echo(f"{len(collections)} collections, listed at http://{shown}:{port}/collections ({writes})", err=True)
    if host not in LOOPBACK:
        click.echo(f"note: listening on {host}, not only on this machine", err=True)
    if host in WILDCARDS and not allow_hosts:
        click.echo("note: requests must name this machine as localhost or by a name given with --allow-host "
                   "(e.g. --allow-host myhost.lan --allow-host 192.168.1.20); others get 400", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level in ("info", "debug"),
                http=HeaderTimeoutHTTP, timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=MAX_CONNECTIONS,
                timeout_graceful_shutdown=SHUTDOWN_S)  # fmt: skip


def check_port(host: str, port: int) -> None:
    """Refuse, with a clear message, an address the server could not listen on (the port taken, the host not
    this machine's). Bound as uvicorn binds it (``SO_REUSEADDR``: a port whose last connections are closing is
    free; one another server listens on is not), then released for uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(f"port {port} is in use on {host}: stop what listens there, or give "
                                           "another --port") from None  # fmt: skip
            raise click.ClickException(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None

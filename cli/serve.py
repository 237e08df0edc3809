"""``aer serve DIR``: the collection behind an HTTP API and a search page."""

from __future__ import annotations

from pathlib import Path

import click

from .common import db_option, device_option, library_errors

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; anyone who can reach it can search).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Writes need this file's token as 'Authorization: Bearer <token>' (default: AER_API_TOKEN; "
              "neither: writes are refused).")  # fmt: skip
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="The server's log (info: one line per request).")  # fmt: skip
@db_option
@device_option
@library_errors
def serve_cmd(collection: Path, host: str, port: int, token_file: Path | None, log_level: str, db: str | None,
              device: str) -> None:  # fmt: skip
    """Serve COLLECTION: a JSON API (its OpenAPI page at /docs) and a search page at /."""
    import uvicorn

    from retrieval.server import create_app, read_token

    token = read_token(token_file)
    app = create_app(collection, db=db, token=token, device=device)
    writes = "writes need the token" if token else "read-only: no token (AER_API_TOKEN or --token-file)"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {collection} at http://{shown}:{port}/ ({writes})", err=True)
    if host not in LOOPBACK:
        click.echo(f"note: listening on {host}, not only on this machine", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level in ("info", "debug"))

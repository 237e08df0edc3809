"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, a free port on 127.0.0.1.

``AER_TEST_POSTGRES_URL`` (a server URL whose user may create databases) replaces it with a server of your own.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find_bin(name: str) -> str | None:
    """A PostgreSQL program on PATH or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throwaway server in a temporary directory that a test may stop and start again (``url`` stays)."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql")
        self.root = Path(tempfile.mkdtemp(prefix="aer-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.data, self.port = self.root / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        subprocess.run([*self.as_user, self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E",
                        "UTF8"], check=True, capture_output=True)  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-o", options, "-l",
                        str(self.root / "log"), "-w", "start"], check=True, capture_output=True)  # fmt: skip

    def stop(self) -> None:
        """Stop at once, as a crash or a killed server would (``-m immediate``: no shutdown checkpoint)."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield ``postgresql://postgres@127.0.0.1:PORT``; stop and remove it afterwards."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()

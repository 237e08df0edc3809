"""retrieval.malloc: aer keeps freed memory in its process; a library import leaves the host's malloc alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import retrieval.malloc as malloc

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")


def flag_after(code: str, env: dict[str, str] | None = None) -> str:
    """What ``retrieval.malloc.applied`` is after ``code`` runs in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", f"{code}; import retrieval.malloc as m; print(m.applied)"],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    return run.stdout.strip()


@glibc_only
def test_aer_keeps_freed_memory_and_the_library_does_not() -> None:
    assert flag_after("import cli.main") == "True"
    assert flag_after("import retrieval, retrieval.encoders") == "False"


@glibc_only
def test_the_users_own_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert malloc.keep_freed_memory() is False
    tunables = {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}
    assert flag_after("import cli.main", env=tunables) == "False"


def test_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert malloc.keep_freed_memory() is False

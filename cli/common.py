"""What the commands share: library errors as clean messages, the device option."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from retrieval.device import DEVICES
from retrieval.errors import RetrievalError

device_option = click.option(
    "--device", type=click.Choice(DEVICES), default="auto", show_default=True,
    help="Where to run the encoder (auto = CUDA when torch sees a GPU).",
)  # fmt: skip


def library_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's own errors into ``ClickException`` (message, exit code 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (RetrievalError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper

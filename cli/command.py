"""The class of every ``aer`` command: options grouped in sections in ``--help``, and ``--threads`` after the
command name as well as before it.

Click lists a command's options in one block; this prints them in sections instead, basic first. Each option
names its section (``option(..., section=STORAGE)``; an option that names none is basic). A dependency
(click-option-group, cloup) would do the same by wrapping related options in one decorator, which does not
suit options shared between commands (``--db``, ``--device``) and declared once in ``common``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

BASIC = "Options"
TRAINING = "Encoder training"
TUNING = "Index tuning"
STORAGE = "Storage"
CLUSTER = "Cluster"
RUNTIME = "Runtime"
SECTIONS = (BASIC, TRAINING, TUNING, STORAGE, CLUSTER, RUNTIME)  # the order --help prints them in

THREADS_HELP = "Threads for torch, BLAS, faiss and the tokenizers [default: AER_THREADS, else every CPU aer may use]."


class SectionOption(click.Option):
    """A ``click.Option`` that names the ``--help`` section it is listed in (one of ``SECTIONS``)."""

    def __init__(self, *args: Any, section: str = BASIC, **kwargs: Any) -> None:
        if section not in SECTIONS:
            raise ValueError(f"The 'section' parameter of an option must be one of {SECTIONS}. Got {section!r}.")
        super().__init__(*args, **kwargs)
        self.section = section


def option(*decls: str, section: str = BASIC, **attrs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``click.option`` for an option listed under ``section`` in ``--help``."""
    return click.option(*decls, cls=SectionOption, section=section, **attrs)


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    """``--threads N`` given after the command: size the pools now, before the command loads torch or faiss."""
    if value is not None:
        from retrieval.threads import set_threads

        set_threads(value)


def threads_option() -> SectionOption:
    """``--threads N`` as an option of a command (``aer --threads N COMMAND`` is the group's own)."""
    return SectionOption(["--threads"], type=click.IntRange(1), default=None, expose_value=False,
                         callback=_set_threads, help=THREADS_HELP, section=RUNTIME)  # fmt: skip


class AerCommand(click.Command):
    """A command that takes ``--threads`` and lists its options by section in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(threads_option())

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each section's options under its own heading, in ``SECTIONS`` order; empty sections are left out."""
        rows: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                rows.setdefault(getattr(param, "section", BASIC), []).append(record)
        for section in SECTIONS:
            if section in rows:
                with formatter.section(section):
                    formatter.write_dl(rows[section])

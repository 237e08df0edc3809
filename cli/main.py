"""The ``aer`` command.

``aer`` owns its process, so it sets the OpenMP and OpenBLAS wait defaults (``retrieval.threads``) first, before
any module imported below can load NumPy, torch or faiss, tells glibc's malloc to keep freed memory for reuse
(``retrieval.malloc``: training steps stop paying page faults), and sizes the thread pools from ``--threads`` (given
before the command's name, or after it: ``cli.command``) or ``AER_THREADS``. Importing ``retrieval`` alone does
none of this: a program using the library keeps its own settings.
"""

# ruff: noqa: E402  (the imports after set_wait_defaults() must come after it)
from __future__ import annotations

from retrieval.malloc import keep_freed_memory
from retrieval.threads import set_wait_defaults

set_wait_defaults()
keep_freed_memory()

import os

import click

from retrieval import __version__
from retrieval.threads import ENV, set_threads

from .add import add_cmd
from .bench import bench_cmd
from .command import THREADS_HELP
from .delete import delete_cmd
from .encoders import encoders_cmd
from .eval import eval_cmd
from .index import index_cmd
from .info import info_cmd
from .outliers import outliers_cmd
from .query import query_cmd
from .reconstruct import reconstruct_cmd
from .serve import serve_cmd
from .snapshot import restore_cmd, snapshot_cmd
from .verify import repair_cmd, verify_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aer")
@click.option("--threads", type=click.IntRange(1), default=None, help=THREADS_HELP)
def main(threads: int | None) -> None:
    """ae-retrieval: index corpora as autoencoder codes and search them."""
    if threads is not None or os.environ.get(ENV):
        set_threads(threads)  # None: AER_THREADS


main.add_command(index_cmd)
main.add_command(query_cmd)
main.add_command(info_cmd)
main.add_command(encoders_cmd)
main.add_command(add_cmd)
main.add_command(delete_cmd)
main.add_command(bench_cmd)
main.add_command(eval_cmd)
main.add_command(outliers_cmd)
main.add_command(reconstruct_cmd)
main.add_command(verify_cmd)
main.add_command(repair_cmd)
main.add_command(snapshot_cmd)
main.add_command(restore_cmd)
main.add_command(serve_cmd)

"""Retrieval benchmarks: the seeds' comparisons, run through the product (``aer bench``); their corpora and
metrics are ``retrieval.eval``'s.

Public names load on first use (PEP 562): ``retrieval.bench.methods`` alone is cheap to import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

_LAZY = {
    "run_anomaly": "anomaly", "run_general": "general",
    "METHODS": "methods", "QUICK_METHODS": "methods", "Method": "methods", "choose": "methods",
    "run_benchmark": "run",
}  # fmt: skip

if TYPE_CHECKING:
    from .anomaly import run_anomaly
    from .general import run_general
    from .methods import METHODS, QUICK_METHODS, Method, choose
    from .run import run_benchmark

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = [
    "METHODS",
    "QUICK_METHODS",
    "Method",
    "choose",
    "run_anomaly",
    "run_benchmark",
    "run_general",
]

"""Retrieval benchmarks: the seeds' comparisons, run through the product (``aer bench``)."""

from .anomaly import run_anomaly
from .data import SuiteData, load_suite
from .general import run_general
from .methods import METHODS, QUICK_METHODS, Method, choose
from .run import run_benchmark

__all__ = [
    "METHODS",
    "QUICK_METHODS",
    "Method",
    "SuiteData",
    "choose",
    "load_suite",
    "run_anomaly",
    "run_benchmark",
    "run_general",
]

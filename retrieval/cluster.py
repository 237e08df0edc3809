"""Cluster mode on Ray: encode with Ray Data across workers; hold the index shards in Ray actors.

``connect(address)`` joins a cluster: ``"local"`` starts one on this machine, ``"auto"`` joins the one
``ray start`` made here (or starts a local one when there is none), anything else is a cluster address
(``ray://head:10001`` or ``head:6379``). Nothing is read from a shared file system: the fitted encoder and
the shards' bytes travel to the workers through Ray's object store, so only the driver needs the
collection directory. Ray is an optional dependency (``pip install 'ae-retrieval[cluster]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from indexers import CodeIndex, ShardedIndex, index_from_bytes, shard_spec
from indexers.sharded import call

from .encoders.base import Encoder
from .errors import CollectionError, MissingDependency

ENCODE_BATCH = 1000  # items per Ray Data batch (one encoder call on a worker)
EncodeFn = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]  # contents -> (codes, errors or None)


class Cluster(Protocol):
    """Where a collection's work can run besides this process; ``RayCluster`` is the one there is."""

    def hold_shards(self, index: CodeIndex) -> CodeIndex:
        """``index`` with its shards held by the cluster's workers (an unsharded index as it is)."""

    def encoder_pool(self, encoder: Encoder) -> EncodeFn:
        """A function that encodes a batch's contents across the cluster's workers."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("cluster mode needs Ray: pip install 'ae-retrieval[cluster]'") from exc
    return ray


def connect(address: str = "auto", num_cpus: int | None = None) -> None:
    """Join (or start) the Ray cluster at ``address``; a no-op when this process is connected already."""
    ray = _ray()
    if ray.is_initialized():
        return
    quiet = {"log_to_driver": False, "include_dashboard": False, "configure_logging": False}
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset progress lines
    ray.data.DataContext.get_current().enable_progress_bars = False
    if address == "local":
        ray.init(num_cpus=num_cpus, **quiet)
        return
    try:
        ray.init(address=address, **quiet)
    except ConnectionError:
        if address != "auto":
            raise CollectionError(f"no Ray cluster answers at {address!r}") from None
        ray.init(num_cpus=num_cpus, **quiet)  # "auto" with no running cluster: a local one


def workers() -> int:
    """CPUs in the connected cluster: how many encoding workers and, by default, index shards."""
    return max(1, int(_ray().cluster_resources().get("CPU", 1)))


class _ShardHolder:
    """A Ray actor holding one index shard; ``call`` runs any of the index's methods on it."""

    def __init__(self, data: np.ndarray, spec: str, name: str) -> None:
        self.index = index_from_bytes(data, spec, name)

    def call(self, method: str, *args: Any) -> Any:
        return call(self.index, method, args)


def _run_remote(shards: list[Any], method: str, args: list[tuple]) -> list[Any]:
    """The ``ShardedIndex`` runner for actors: every shard's call submitted first, then all awaited."""
    ray = _ray()
    return ray.get([holder.call.remote(method, *a) for holder, a in zip(shards, args)])


class _Encode:
    """Ray Data's per-worker encoder: codes and reconstruction errors for a batch, in one pass."""

    def __init__(self, encoder: Any) -> None:
        import torch

        torch.set_num_threads(1)  # one worker per CPU
        ray = _ray()
        self.encoder = ray.get(encoder) if isinstance(encoder, ray.ObjectRef) else encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = batch["item"]
        items = list(map(str, items)) if items.dtype.kind in "OUS" else np.asarray(items, dtype=np.uint8)
        codes, errors = self.encoder.encode_with_errors(items)
        missing = np.full(len(codes), np.nan, dtype=np.float64)
        return {"i": batch["i"], "code": codes, "error": missing if errors is None else errors}


class RayCluster:
    """A connected Ray cluster as a collection's ``Cluster``: index shards in actors, encoding with Ray Data."""

    def __init__(self, address: str = "auto") -> None:
        connect(address)
        self.address = address

    def hold_shards(self, index: CodeIndex) -> CodeIndex:
        """``index`` with each shard moved into a Ray actor; an unsharded index stays here (one actor gains
        nothing)."""
        if not isinstance(index, ShardedIndex):
            if index.spec.startswith("TwoStage"):
                raise CollectionError("two-stage collections cannot run on a cluster (yet)")
            return index
        ray = _ray()
        holder = ray.remote(num_cpus=0)(_ShardHolder)  # searches are short: do not reserve a CPU per shard
        one = shard_spec(index.spec)
        actors = [holder.remote(ray.put(data), one, f"shard {i}") for i, data in enumerate(index.shard_bytes())]
        return index.with_runner(actors, _run_remote)

    def encoder_pool(self, encoder: Encoder) -> EncodeFn:
        """A function encoding a batch's contents across the cluster's workers (one Ray Data job)."""
        ray = _ray()
        encoder_ref = ray.put(encoder)
        concurrency = workers()

        def encode_batch(batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
            rows = [{"i": i, "item": item} for i, item in enumerate(batch)]
            blocks = max(1, -(-len(rows) // ENCODE_BATCH))
            ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                _Encode,
                fn_constructor_kwargs={"encoder": encoder_ref},
                batch_size=ENCODE_BATCH,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=concurrency),
                num_cpus=1,
            )
            parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
            order = np.argsort(np.concatenate([p["i"] for p in parts]), kind="stable")
            codes = np.concatenate([p["code"] for p in parts])[order]
            errors = np.concatenate([p["error"] for p in parts])[order]
            return codes, None if np.isnan(errors).all() else errors

        return encode_batch


def default_shards() -> int:
    """Shards for a new collection built on the connected cluster: one per CPU (at least 2)."""
    return max(2, workers())

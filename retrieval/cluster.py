"""Cluster mode on Ray: encode in Ray tasks spread over the workers; hold the index shards in Ray actors.

``connect(address)`` joins a cluster: ``"local"`` starts one on this machine, ``"auto"`` joins the one
``ray start`` made here (or starts a local one when there is none), anything else is a cluster address
(``ray://head:10001`` or ``head:6379``). Nothing is read from a shared file system: the fitted encoder and
the shards' bytes travel to the workers through Ray's object store, so only the driver needs the
collection directory. Ray is an optional dependency (``pip install 'ae-retrieval[cluster]'``).

Losing a worker node: an encoding task that was running there is run again on another node (Ray's task
retries: node and worker failures only, never an encoder's own error), so encoding completes while any node
with a CPU is left. A shard actor on the lost node is gone with the codes it held in memory; every call that
needs it then raises ``ShardsUnavailable`` naming the shards: a search never answers from only some shards,
and a write fails whole (the collection puts its last committed index back, in new actors on the nodes that are
left). Reopening the collection holds every shard again from its committed index file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from indexers import CodeIndex, ShardedIndex, index_from_bytes, shard_spec
from indexers.sharded import call

from .encoders.base import Encoder
from .errors import CollectionError, MissingDependency

ENCODE_BATCH = 1000  # most items per encoding task (one encoder call on a worker)
ENCODE_RETRIES = 3  # times a task lost with its worker or node is run again elsewhere
SEARCH_TIMEOUT_S = 60.0  # a shard that has not answered a search by then counts as missing
READS = frozenset({"search", "search_among"})  # the calls SEARCH_TIMEOUT_S applies to
EncodeFn = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]  # contents -> (codes, errors or None)


class Cluster(Protocol):
    """Where a collection's work can run besides this process; ``RayCluster`` is the one there is."""

    def hold_shards(self, index: CodeIndex) -> CodeIndex:
        """``index`` with its shards held by the cluster's workers (an unsharded index as it is)."""

    def encoder_pool(self, encoder: Encoder) -> EncodeFn:
        """A function that encodes a batch's contents across the cluster's workers."""


class ShardsUnavailable(CollectionError):
    """Some index shards did not answer (their actor died with its node, or a search timed out): nothing is
    answered from the others alone. ``missing``: their numbers; ``shards``: how many the index has."""

    def __init__(self, missing: Sequence[int], shards: int, method: str, why: str) -> None:
        self.missing = tuple(sorted(missing))
        self.shards = shards
        names = ", ".join(map(str, self.missing))
        super().__init__(
            f"{len(self.missing)} of {shards} index shards unavailable (shard {names}: {why}); {method!r} was not "
            "answered from the others alone. Reopen the collection to hold its shards again from its committed "
            "index file (a failed write has changed nothing: run it again)."
        )


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
    """CPUs in the connected cluster: how many encoding tasks run at once and, by default, index shards."""
    return max(1, int(_ray().cluster_resources().get("CPU", 1)))


def alive_nodes() -> list[str]:
    """The ids of the cluster's live nodes that have CPUs, in a stable order (where shard actors go)."""
    return sorted(dict.fromkeys(_cpu_slots()))


def _cpu_slots() -> list[str]:
    """Each live node's id once per CPU it has, nodes in a stable order (where encoding tasks go in turn)."""
    nodes = sorted((n["NodeID"], int(n.get("Resources", {}).get("CPU", 0))) for n in _ray().nodes() if n.get("Alive"))
    return [node for node, cpus in nodes for _ in range(cpus)]


def _on(node: str | None, soft: bool = True) -> Any:
    """A scheduling strategy for ``node``; ``soft``: a node that is gone (or busy) leaves the work to the others."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node, soft=soft) if node else "DEFAULT"


def _node_id() -> str:
    return _ray().get_runtime_context().get_node_id()


# --- index shards in actors ----------------------------------------------------------------------


class _ShardHolder:
    """A Ray actor holding one index shard; ``call`` runs any of the index's methods on it."""

    def __init__(self, data: np.ndarray, spec: str, name: str) -> None:
        self.index = index_from_bytes(data, spec, name)

    def call(self, method: str, *args: Any) -> Any:
        return call(self.index, method, args)

    def node(self) -> str:
        """The id of the node this actor runs on."""
        return _node_id()

    def stats(self) -> dict[str, Any]:
        """Where the shard is and what it costs: node id, items, this process's private memory in bytes."""
        return {"node": _node_id(), "items": len(self.index), "private_bytes": _private_bytes()}


def _private_bytes() -> int | None:
    """This process's private memory (what it alone holds: not shared libraries, not the object store), Linux."""
    try:
        lines = open("/proc/self/smaps_rollup").read().splitlines()  # noqa: SIM115 (one read)
    except OSError:
        return None
    return 1024 * sum(int(line.split()[1]) for line in lines if line.startswith(("Private_Clean", "Private_Dirty")))


@dataclass(frozen=True)
class _Held:
    """One shard's actor, its number in the index (what ``ShardsUnavailable`` names) and the index's shard count."""

    actor: Any
    number: int
    of: int
    facts: dict[str, Any]  # what never changes (metric, dim, ...): answered here, even when the actor is lost


FACTS = ("metric", "dim", "structure")  # read from the shard before it moves; use_gpu: actors run on the CPU


def _run_remote(shards: Sequence[_Held], method: str, args: Sequence[tuple]) -> list[Any]:
    """The ``ShardedIndex`` runner for actors: every shard's call submitted first, then all awaited; any shard
    that does not answer (actor or node lost; a search past ``SEARCH_TIMEOUT_S``) is a ``ShardsUnavailable``."""
    if all(method in held.facts for held in shards):
        return [held.facts[method] for held in shards]
    ray = _ray()
    lost = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.NodeDiedError)
    refs = [held.actor.call.remote(method, *a) for held, a in zip(shards, args)]
    timeout = SEARCH_TIMEOUT_S if method in READS else None
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    done = set(ready)
    results: list[Any] = []
    missing: dict[int, str] = {}
    for held, ref in zip(shards, refs):
        if ref not in done:
            missing[held.number] = f"no answer within {SEARCH_TIMEOUT_S:g} s"
            continue
        try:
            results.append(ray.get(ref))
        except lost as exc:
            missing[held.number] = f"its Ray actor is lost ({type(exc).__name__})"
    if missing:
        why = "; ".join(sorted(set(missing.values())))
        raise ShardsUnavailable(list(missing), shards[0].of, method, why)
    return results


def shard_stats(index: CodeIndex) -> list[dict[str, Any]]:
    """Each shard of ``index`` (held by ``RayCluster.hold_shards``): its node id, items and actor's private memory."""
    if not isinstance(index, ShardedIndex) or not all(isinstance(s, _Held) for s in index.shards):
        raise CollectionError("the index's shards are not held by Ray actors")
    return list(_ray().get([s.actor.stats.remote() for s in index.shards]))


def shard_nodes(index: CodeIndex) -> list[str]:
    """The node id holding each shard of ``index`` (held by ``RayCluster.hold_shards``)."""
    return [s["node"] for s in shard_stats(index)]


# --- encoding in tasks -----------------------------------------------------------------------------

_ENCODERS: dict[str, Any] = {}  # in each worker process: the encoders it has read, by object id


def _encode_task(encoder: list[Any], items: Any) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Codes and reconstruction errors of ``items`` on a worker, and the node it ran on. ``encoder`` is the
    encoder's object ref in a list (so that Ray passes the ref); each worker reads it once."""
    key = encoder[0].hex()
    if key not in _ENCODERS:
        if len(_ENCODERS) >= 2:
            _ENCODERS.clear()
        _ENCODERS[key] = _ray().get(encoder[0])
    codes, errors = _ENCODERS[key].encode_with_errors(items)
    return codes, errors, _node_id()


class RayCluster:
    """A connected Ray cluster as a collection's ``Cluster``: index shards in actors spread over the nodes,
    encoding in tasks spread over the workers. ``encoded_on`` counts the batches each node encoded."""

    def __init__(self, address: str = "auto") -> None:
        connect(address)
        self.address = address
        self.encoded_on: Counter[str] = Counter()

    def hold_shards(self, index: CodeIndex) -> CodeIndex:
        """``index`` with each shard moved into a Ray actor, the actors placed round the live nodes in turn; an
        unsharded index stays here (one actor gains nothing)."""
        if not isinstance(index, ShardedIndex):
            if index.spec.startswith("TwoStage"):
                raise CollectionError("two-stage collections cannot run on a cluster (yet)")
            return index
        ray = _ray()
        nodes = alive_nodes() or [None]
        one = shard_spec(index.spec)
        held = []
        for i, (shard, data) in enumerate(zip(index.shards, index.shard_bytes())):
            place = _on(nodes[i % len(nodes)], soft=False)  # where it was dealt, even when that node is busy
            # searches are short: no CPU reserved per shard; a lost actor is not restarted (its codes are gone)
            holder = ray.remote(num_cpus=0, max_restarts=0, scheduling_strategy=place)(_ShardHolder)
            facts = {name: call(shard, name, ()) for name in FACTS} | {"use_gpu": False}
            held.append(_Held(holder.remote(ray.put(data), one, f"shard {i}"), i, index.count, facts))
        return index.with_runner(held, _run_remote)

    def encoder_pool(self, encoder: Encoder) -> EncodeFn:
        """A function encoding a batch's contents in tasks dealt to the live nodes' CPUs in turn (at least one task
        per CPU); a task lost with its node is run again elsewhere, up to ``ENCODE_RETRIES`` times."""
        ray = _ray()
        encoder_ref = [ray.put(encoder)]
        # retries: a worker or node lost, never the encoder's own error (it would fail the same way again)
        task = ray.remote(num_cpus=1, max_retries=ENCODE_RETRIES, retry_exceptions=False)(_encode_task)

        def encode_batch(batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
            slots = _cpu_slots() or [None]
            size = max(1, min(ENCODE_BATCH, -(-len(batch) // len(slots))))
            starts = range(0, len(batch), size)
            refs = [
                task.options(scheduling_strategy=_on(slots[n % len(slots)])).remote(encoder_ref, batch[s : s + size])
                for n, s in enumerate(starts)
            ]
            try:
                parts = ray.get(refs)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.ObjectLostError, ray.exceptions.RayActorError) as exc:  # fmt: skip
                raise CollectionError(
                    f"encoding on the Ray cluster failed after {ENCODE_RETRIES} retries per task "
                    f"({type(exc).__name__}); nothing of this batch was written"
                ) from exc
            self.encoded_on.update(node for _, _, node in parts)
            codes = np.concatenate([p[0] for p in parts])
            errors = [p[1] for p in parts]
            return codes, None if any(e is None for e in errors) else np.concatenate(errors)

        return encode_batch


def default_shards() -> int:
    """Shards for a new collection built on the connected cluster: one per CPU (at least 2)."""
    return max(2, workers())

"""N indexes of one kind as one: key ``k`` lives in shard ``k % N``; a search asks every shard and merges.

The shards are local indexes searched from a thread pool (faiss releases the GIL), or — after
:meth:`ShardedIndex.with_runner` — handles to remote holders such as Ray actors (``retrieval.cluster``).
The merge keeps the ``k`` best of the shards' ``k`` best, which is the single index's top-``k``: every item
of the global top-``k`` is in its own shard's top-``k``. Search parameters (``nflip``, ``nprobe``) are set on
every shard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .base import CodeIndex
from .errors import IndexFileError, InvalidParameterError
from .files import arrays_bytes, read_arrays, write_arrays

FORMAT = "ae-retrieval-sharded"
# runner(shards, method name, one argument tuple per shard) -> one result per shard
Runner = Callable[[Sequence[Any], str, Sequence[tuple]], list[Any]]
Reader = Callable[[np.ndarray, str], CodeIndex]  # (one shard's bytes, a name for errors) -> the shard


def call(target: Any, method: str, args: tuple) -> Any:
    """``target.method(*args)``, or the attribute's value when it is not callable (``is_trained``, ``metric``)."""
    attr = getattr(target, method)
    return attr(*args) if callable(attr) else attr


def run_local(shards: Sequence[Any], method: str, args: Sequence[tuple]) -> list[Any]:
    """Call ``method`` on every shard, in threads when there are several."""
    if len(shards) == 1:
        return [call(shards[0], method, args[0])]
    with ThreadPoolExecutor(len(shards)) as pool:
        return list(pool.map(lambda pair: call(pair[0], method, pair[1]), zip(shards, args)))


def merge_top_k(scores: Sequence[np.ndarray], keys: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(scores, keys)`` per row across shards' results (higher score first, then lower key)."""
    all_scores = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores], axis=1)
    all_keys = np.concatenate(keys, axis=1).astype(np.int64)
    all_scores = np.where(all_keys < 0, -np.inf, all_scores)
    order = np.lexsort((all_keys, -all_scores), axis=1)[:, :k]
    top_keys = np.take_along_axis(all_keys, order, axis=1)
    top_scores = np.take_along_axis(all_scores, order, axis=1)
    return top_scores.astype(np.float32), np.where(np.isfinite(top_scores), top_keys, -1)


class ShardedIndex(CodeIndex):
    """``len(shards)`` indexes of one kind behaving as one; ``runner`` says how the shards are called."""

    def __init__(self, shards: Sequence[Any], runner: Runner = run_local) -> None:
        if not shards:
            raise InvalidParameterError("A ShardedIndex needs at least one shard.")
        self.shards = list(shards)
        self._run = runner

    @classmethod
    def create(cls, count: int, make: Callable[[], CodeIndex], runner: Runner = run_local) -> ShardedIndex:
        """``count`` empty shards, each made by ``make()``."""
        if not isinstance(count, (int, np.integer)) or count < 1:
            raise InvalidParameterError(f"The 'shards' parameter must be an int >= 1. Got {count!r} instead.")
        return cls([make() for _ in range(count)], runner)

    @classmethod
    def load(cls, path: str | Path, read: Reader, runner: Runner = run_local) -> ShardedIndex:
        """Read a file written by :meth:`save`; ``read(bytes, name)`` rebuilds one shard."""
        return cls._read(path, str(path), read, runner)

    @classmethod
    def from_bytes(cls, data: np.ndarray, name: str, read: Reader, runner: Runner = run_local) -> ShardedIndex:
        """Rebuild an index from :meth:`to_bytes`; ``read(bytes, name)`` rebuilds one shard."""
        return cls._read(data, name, read, runner)

    @classmethod
    def _read(cls, source: str | Path | np.ndarray, name: str, read: Reader, runner: Runner) -> ShardedIndex:
        arrays = read_arrays(source, name, "sharded index", FORMAT)
        names = [f"shard_{i}" for i in range(len(arrays))]
        if not arrays or set(arrays) != set(names):
            raise IndexFileError(f"{name}: not a sharded index (holds {sorted(arrays)})")
        return cls([read(arrays[n], f"{name} shard {i}") for i, n in enumerate(names)], runner)

    def with_runner(self, shards: Sequence[Any], runner: Runner) -> ShardedIndex:
        """The same index with its shards held elsewhere (e.g. Ray actors), called through ``runner``."""
        if len(shards) != len(self.shards):
            raise InvalidParameterError(f"{len(shards)} shard holders for {len(self.shards)} shards")
        return ShardedIndex(shards, runner)

    @property
    def count(self) -> int:
        return len(self.shards)

    def _call(self, method: str, args: Sequence[tuple]) -> list[Any]:
        return self._run(self.shards, method, args)

    def _call_all(self, method: str) -> list[Any]:
        return self._call(method, [()] * self.count)

    def _call_one(self, shard: int, method: str, args: tuple = ()) -> Any:
        return self._run([self.shards[shard]], method, [args])[0]

    def _split(self, keys: np.ndarray, *arrays: np.ndarray) -> list[tuple]:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        owner = keys % self.count
        return [(keys[owner == i], *(a[owner == i] for a in arrays)) for i in range(self.count)]

    # --- the index interface -------------------------------------------------------------

    @property
    def structure(self) -> str:
        return f"Shards{self.count},{self._call_one(0, 'structure')}"

    def params(self) -> dict[str, int]:
        return self._call_one(0, "params")

    def set_params(self, params: Mapping[str, int]) -> None:
        """Set the parameters on every shard."""
        self._call("set_params", [(dict(params),)] * self.count)

    @property
    def metric(self) -> str:  # type: ignore[override]
        return self._call_one(0, "metric")

    @property
    def use_gpu(self) -> bool:  # type: ignore[override]
        return bool(self._call_one(0, "use_gpu"))

    @property
    def dim(self) -> int:
        return int(self._call_one(0, "dim"))

    def __len__(self) -> int:
        return int(sum(self._call_all("__len__")))

    @property
    def is_trained(self) -> bool:
        return all(self._call_all("is_trained"))

    def train(self, codes: np.ndarray) -> None:
        """Train every shard on the same sample."""
        self._call("train", [(codes,)] * self.count)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        self._call("add", self._split(keys, np.asarray(codes)))

    def remove(self, keys: np.ndarray) -> int:
        return int(sum(self._call("remove", self._split(keys))))

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        results = self._call("search", [(codes, k)] * self.count)
        return merge_top_k([r[0] for r in results], [r[1] for r in results], k)

    def search_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each shard's exact top-``k`` among ``keys`` (its own share of them), merged."""
        results = self._call("search_among", [(codes, k, part[0]) for part in self._split(np.asarray(keys))])
        return merge_top_k([r[0] for r in results], [r[1] for r in results], k)

    def keys(self) -> np.ndarray:
        return np.concatenate(self._call_all("keys"))

    def reconstruct(self, key: int) -> np.ndarray:
        return self._call_one(int(key) % self.count, "reconstruct", (int(key),))

    def bytes_per_item(self) -> float:
        return sum(len(b) for b in self.shard_bytes()) / max(1, len(self))

    def describe(self) -> str:
        """E.g. ``3 shards of IDMap2,Flat (inner product)``."""
        return f"{self.count} shards of {self._call_one(0, 'describe')}"

    def shard_bytes(self) -> list[np.ndarray]:
        """Each shard serialised (what ``indexers.index_from_bytes`` reads with the one-shard spec)."""
        return self._call_all("to_bytes")

    def to_bytes(self) -> np.ndarray:
        """What :meth:`save` writes, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return arrays_bytes(self._arrays(), FORMAT, shards=str(self.count))

    def save(self, path: str | Path) -> None:
        """Every shard in one file, atomically (safetensors of the serialised indexes)."""
        write_arrays(path, self._arrays(), FORMAT, shards=str(self.count))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f"shard_{i}": np.asarray(b, dtype=np.uint8) for i, b in enumerate(self.shard_bytes())}

"""N indexes of one kind as one: key ``k`` lives in shard ``k % N``; a search asks every shard and merges.

The shards are local ``FloatIndex`` / ``BinaryIndex`` objects, searched from a thread pool (faiss
releases the GIL), or — after :meth:`ShardedIndex.with_runner` — handles to remote holders such as Ray
actors (``retrieval.cluster``). The merge keeps the ``k`` best of the shards' ``k`` best, which is the
single index's top-``k``: every item of the global top-``k`` is in its own shard's top-``k``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .binary_index import BinaryIndex
from .files import atomic_write
from .float_index import FloatIndex, IndexFileError

FORMAT = "ae-retrieval-sharded"
Shard = FloatIndex | BinaryIndex
# runner(shards, method name, one argument tuple per shard) -> one result per shard
Runner = Callable[[Sequence[Any], str, Sequence[tuple]], list[Any]]


def call(target: Any, method: str, args: tuple) -> Any:
    """``target.method(*args)``, or the attribute's value when it is not callable (``is_trained``)."""
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


class ShardedIndex:
    """``len(shards)`` indexes of one kind behaving as one (``add``, ``remove``, ``search``, ``save`` ...)."""

    def __init__(self, shards: Sequence[Any], runner: Runner = run_local) -> None:
        if not shards:
            raise ValueError("A ShardedIndex needs at least one shard.")
        self.shards = list(shards)
        self._run = runner
        self.use_gpu = False

    @classmethod
    def create(cls, count: int, make: Callable[[], Shard]) -> ShardedIndex:
        """``count`` empty shards, each made by ``make()``."""
        if count < 1:
            raise ValueError(f"The 'shards' parameter must be at least 1. Got {count} instead.")
        return cls([make() for _ in range(count)])

    def with_runner(self, shards: Sequence[Any], runner: Runner) -> ShardedIndex:
        """The same index with its shards held elsewhere (e.g. Ray actors), called through ``runner``."""
        if len(shards) != len(self.shards):
            raise ValueError(f"{len(shards)} shard holders for {len(self.shards)} shards")
        return ShardedIndex(shards, runner)

    @property
    def count(self) -> int:
        return len(self.shards)

    def _call(self, method: str, args: Sequence[tuple]) -> list[Any]:
        return self._run(self.shards, method, args)

    def _split(self, keys: np.ndarray, *arrays: np.ndarray) -> list[tuple]:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        owner = keys % self.count
        return [(keys[owner == i], *(a[owner == i] for a in arrays)) for i in range(self.count)]

    # --- the index interface -------------------------------------------------------------

    def __len__(self) -> int:
        return int(sum(self._call("__len__", [()] * self.count)))

    @property
    def is_trained(self) -> bool:
        return all(self._call("is_trained", [()] * self.count))

    def train(self, codes: np.ndarray) -> None:
        self._call("train", [(codes,)] * self.count)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        self._call("add", self._split(keys, np.asarray(codes)))

    def remove(self, keys: np.ndarray) -> int:
        return int(sum(self._call("remove", self._split(keys))))

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        results = self._call("search", [(codes, k)] * self.count)
        return merge_top_k([r[0] for r in results], [r[1] for r in results], k)

    def keys(self) -> np.ndarray:
        return np.concatenate(self._call("keys", [()] * self.count))

    def reconstruct(self, key: int) -> np.ndarray:
        return self._call_one(int(key) % self.count, "reconstruct", (int(key),))

    def _call_one(self, shard: int, method: str, args: tuple) -> Any:
        return self._run([self.shards[shard]], method, [args])[0]

    def bytes_per_item(self) -> float:
        return sum(len(b) for b in self.to_bytes()) / max(1, len(self))

    def index_type(self) -> str:
        return f"{self.count} shards of {self._call_one(0, 'index_type', ())}"

    def to_bytes(self) -> list[np.ndarray]:
        return self._call("to_bytes", [()] * self.count)

    def save(self, path: str | Path) -> None:
        """Every shard in one file, atomically (safetensors of the serialised faiss indexes)."""
        arrays = {f"shard_{i}": b for i, b in enumerate(self.to_bytes())}
        meta = {"format": FORMAT, "shards": str(self.count)}
        atomic_write(path, lambda tmp: save_file(arrays, tmp, metadata=meta))

    @staticmethod
    def read_shards(path: str | Path) -> list[np.ndarray]:
        """The serialised shards in a file written by :meth:`save`."""
        try:
            arrays = load_file(str(path))
        except (OSError, SafetensorError, ValueError) as exc:
            raise IndexFileError(f"{path}: not a readable sharded index ({exc})") from exc
        names = [f"shard_{i}" for i in range(len(arrays))]
        if not arrays or set(arrays) != set(names):
            raise IndexFileError(f"{path}: not a sharded index (holds {sorted(arrays)})")
        return [arrays[n] for n in names]

    @classmethod
    def load(cls, path: str | Path, read: Callable[[np.ndarray, str], Shard]) -> ShardedIndex:
        """Read a file written by :meth:`save`; ``read(bytes, name)`` rebuilds one shard."""
        return cls([read(b, f"{path} shard {i}") for i, b in enumerate(cls.read_shards(path))])

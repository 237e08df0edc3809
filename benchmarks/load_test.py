"""A bounded load test of ``aer serve``: concurrent searching clients, one writer, nothing lost.

    python benchmarks/load_test.py demo.aer --clients 8 --queries 2000 --writer --out runs/load-test

The collection is copied to a temporary folder first (``--in-place`` serves it as it is) and served by
``aer serve`` in a subprocess on loopback. ``--clients`` threads, each with its own keep-alive HTTP client,
send ``--queries`` searches each (text queries made of stored snippets, each with a vocabulary word; ``like``
queries for images), while one writer (``--writer``) adds batches of new items with the token. It reports
p50 / p99 latency, QPS and errors (which must be 0), and checks that the server ends with the items it began
with plus those added.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TITLE = "Load test: aer serve under concurrent searches and writes"
ABOUT = (
    "`benchmarks/load_test.py`: serves a copy of a collection on loopback, `clients` client threads of text "
    "searches (k=10), optionally one writer adding batches of `write_batch` items with the token; clients, server "
    "and writer share the machine."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_queries(path: Path, n: int, seed: int) -> tuple[str, list[dict[str, Any]]]:
    """The collection's modality and ``n`` query parameter sets drawn from its items (seeded)."""
    import retrieval

    with retrieval.open(path, device="cpu") as col:
        keys = sorted(col.item_labels())
        rng = random.Random(seed)
        records = list(col.store.by_keys(rng.sample(keys, min(len(keys), 500))).values())
        modality = col.modality
        queries = []
        while len(queries) < n:
            record = rng.choice(records)
            words = record.snippet.split()
            if modality == "text" and len(words) >= 4 and rng.random() < 0.8:
                start = rng.randrange(max(1, len(words) - 12))
                text = " ".join(words[start : start + 12])
                if _encodable(col, text):  # a text with no vocabulary word is a 400, not load
                    queries.append({"q": text, "k": 10})
            else:
                queries.append({"like": record.id, "k": 10})
    return modality, queries


def _encodable(col: Any, text: str) -> bool:
    import retrieval

    try:
        col.encode([text])
    except retrieval.QueryError:
        return False
    return True


def start(path: Path, token: str, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AER_API_TOKEN": token, "AER_THREADS": str(threads)}
    cmd = [sys.executable, "-c", "from cli.main import main; main()", "serve", str(path), "--port", str(port),
           "--device", "cpu", "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"aer serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("aer serve did not start within 180 s")


def client_loop(url: str, queries: list[dict[str, Any]], latencies: list[float], errors: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        for params in queries:
            t0 = time.perf_counter()
            try:
                r = c.get("/search", params=params)
                ok = r.status_code == 200
            except httpx.HTTPError as exc:
                ok, r = False, exc
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors.append(str(getattr(r, "text", r))[:200])


def png(rng: np.random.Generator) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def writer_loop(url: str, token: str, modality: str, batch: int, stop: threading.Event, out: dict[str, Any]) -> None:
    """Add batches of new items until ``stop``; count what the server says it added."""
    rng = np.random.default_rng(0)
    words = "orbit shuttle launch engine brake doctor patient graphics window hockey game".split()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as c:
        while not stop.is_set():
            n = out["writes"]
            t0 = time.perf_counter()
            if modality == "text":
                items = [{"id": f"load-{n}-{i}", "text": " ".join(rng.choice(words, 30)), "label": "load"}
                         for i in range(batch)]  # fmt: skip
                r = c.post("/items", json=items)
            else:
                r = c.post("/items", files={"image": ("x.png", png(rng))}, data={"id": f"load-{n}", "label": "load"})
            out["latencies"].append(time.perf_counter() - t0)
            out["writes"] += 1
            if r.status_code == 200:
                out["added"] += r.json()["added"]
            else:
                out["errors"].append(r.text[:200])
            stop.wait(0.05)


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = None
    path = args.collection
    if not args.in_place:
        work = Path(tempfile.mkdtemp(prefix="aer-load-"))
        path = Path(shutil.copytree(args.collection, work / args.collection.name))
    token = secrets.token_urlsafe(24)
    modality, queries = sample_queries(path, args.clients * args.queries, args.seed)
    proc, url = start(path, token, args.server_threads)
    try:
        before = httpx.get(url + "/healthz").json()["items"]
        for params in queries[:20]:  # warm-up, not measured
            httpx.get(url + "/search", params=params, timeout=60)
        latencies: list[float] = []
        errors: list[str] = []
        wrote: dict[str, Any] = {"writes": 0, "added": 0, "errors": [], "latencies": []}
        stop = threading.Event()
        writer = threading.Thread(target=writer_loop, args=(url, token, modality, args.write_batch, stop, wrote))
        clients = [threading.Thread(target=client_loop, args=(url, queries[i :: args.clients], latencies, errors))
                   for i in range(args.clients)]  # fmt: skip
        t0 = time.perf_counter()
        if args.writer:
            writer.start()
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        wall = time.perf_counter() - t0
        stop.set()
        if args.writer:
            writer.join()
        after = httpx.get(url + "/healthz").json()["items"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    ms = np.array(latencies) * 1000
    write_ms = np.array(wrote["latencies"] or [0.0]) * 1000
    return {
        "collection": str(args.collection), "modality": modality, "clients": args.clients,
        "queries": len(latencies), "wall_s": round(wall, 2), "qps": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "errors": len(errors) + len(wrote["errors"]), "error_samples": (errors + wrote["errors"])[:5],
        "writes": wrote["writes"], "write_batch": args.write_batch if modality == "text" else 1,
        "write_p50_ms": round(float(np.percentile(write_ms, 50)), 2), "added": wrote["added"],
        "items_before": before, "items_after": after, "nothing_lost": after == before + wrote["added"],
        "cpus": os.cpu_count(),
    }  # fmt: skip


COLUMNS = {
    "clients": lambda r: r["clients"], "queries": lambda r: r["queries"], "QPS": lambda r: r["qps"],
    "p50 ms": lambda r: r["p50_ms"], "p99 ms": lambda r: r["p99_ms"], "errors": lambda r: r["errors"],
    "writes (added)": lambda r: f"{r['writes']} ({r['added']})",
    "items before → after": lambda r: f"{r['items_before']} → {r['items_after']}",
    "nothing lost": lambda r: "yes" if r["nothing_lost"] else "NO",
}  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The result as a markdown table (one row)."""
    lines = [list(COLUMNS), ["---"] * len(COLUMNS), [str(cell(result)) for cell in COLUMNS.values()]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("collection", type=Path)
    parser.add_argument("--clients", type=int, default=8, help="Concurrent searching clients.")
    parser.add_argument("--queries", type=int, default=2000, help="Searches per client.")
    parser.add_argument("--writer", action="store_true", help="One writer adds items meanwhile.")
    parser.add_argument("--write-batch", type=int, default=10, help="Text items per write.")
    parser.add_argument("--server-threads", type=int, default=1, help="AER_THREADS of the server.")
    parser.add_argument("--in-place", action="store_true", help="Serve the collection itself, not a copy.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="Write results.json and its page into this folder.")
    args = parser.parse_args()
    result = run(args)
    print(table(result))
    if args.out:
        from retrieval.bench.record import provenance, write_results

        header = provenance()  # after the run: torch and faiss stay out of the clients' process while it lasts
        write_results(args.out, {"suite": "load-test", "title": TITLE, "about": ABOUT, **header, **result})
    if result["errors"] or not result["nothing_lost"]:
        raise SystemExit(f"FAILED: {result['errors']} errors, nothing_lost={result['nothing_lost']}")


if __name__ == "__main__":
    main()

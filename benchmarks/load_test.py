"""A bounded load test of ``aer serve`` against the library itself, on one collection and machine, in one run.

    python benchmarks/load_test.py demo.aer --clients 8 --queries 1000 --out benchmarks/results/load-test

Three phases, on a copy of the collection (``--in-place`` uses it as it is):

1. **library**: one process runs ``Collection.search`` (``search_by_id`` for ``like`` queries) on the queries one
   after another: the single-process QPS an embedding program gets;
2. **HTTP search only**: ``aer serve`` in a subprocess on loopback; ``--clients`` threads of this process, each
   with its own keep-alive connection (the standard library's ``http.client``: a light load generator), send
   ``--queries`` searches each;
3. **HTTP with a writer**: the same, while one writer adds batches of ``--write-batch`` new items with the token.

The clients (the load generator) are pinned to one core with ``os.sched_setaffinity``; the server and the
library process are not pinned. The queries are the same in each phase: text made of stored snippets (each with a
vocabulary word) and ``like`` queries (images: ``like`` only), k=10. Each phase reports QPS, p50 and p99; the
HTTP phases must have 0 errors, and the server must end with the items it began with plus those added.

``--code DIR`` runs the library and the server from another checkout (e.g. ``git archive`` of an older commit
unpacked in DIR: the baseline of a change), the clients staying this one's.
"""

from __future__ import annotations

import argparse
import http.client
import json
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
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TITLE = "Load test: aer serve against the library, under concurrent searches and a writer"
ABOUT = (
    "`benchmarks/load_test.py`: one collection, three phases in one run: the library's single-process `search` "
    "loop; `aer serve` on loopback with `clients` client threads of searches (k=10) on one keep-alive connection "
    "each; the same with one writer adding batches of `write_batch` items with the token. Clients, server and "
    "writer share the machine; the load generator (all client threads and the writer) is pinned to one core."
)
LIBRARY_QUERIES = 3000  # searches the library phase times (at most)


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


def summary(latencies: list[float], wall: float) -> dict[str, Any]:
    """QPS, p50 and p99 (ms) of one phase."""
    ms = np.array(latencies or [0.0]) * 1000
    p50, p99 = (round(float(np.percentile(ms, p)), 2) for p in (50, 99))
    return {"queries": len(latencies), "wall_s": round(wall, 2), "qps": round(len(latencies) / wall, 1),
            "p50_ms": p50, "p99_ms": p99}  # fmt: skip


def library_worker(path: Path, out: Path, n: int, seed: int, threads: int, code: Path) -> None:
    """The queries and the library phase, in a process of their own (``--library-worker OUT``) that imports the
    library of ``code`` (the server's: it may read a collection only as that version leaves it). Writes the
    modality, the queries and the phase's summary into ``out`` as JSON."""
    sys.path.insert(0, str(code))  # before anything imports retrieval
    from retrieval.threads import set_threads, set_wait_defaults

    set_wait_defaults()  # as the aer command does, before torch and faiss load
    set_threads(threads)
    import retrieval

    modality, queries = sample_queries(path, n, seed)
    with retrieval.open(path, device="cpu") as col:

        def one(params: dict[str, Any]) -> None:
            if "like" in params:
                col.search_by_id(params["like"], k=params["k"])
            else:
                col.search(params["q"], k=params["k"])

        for params in queries[:20]:  # warm-up, not measured
            one(params)
        latencies = []
        t0 = time.perf_counter()
        for params in queries[:LIBRARY_QUERIES]:
            t = time.perf_counter()
            one(params)
            latencies.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
    out.write_text(json.dumps({"modality": modality, "queries": queries, "library": summary(latencies, wall)}))


def measure_library(path: Path, args: argparse.Namespace, code: Path) -> tuple[str, list[dict[str, Any]], dict]:
    """The modality, the queries and the library phase's summary (``library_worker``, in a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "library.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), str(path), "--library-worker", str(out), "--code",
               str(code), "--server-threads", str(args.server_threads), "--seed", str(args.seed), "--clients",
               str(args.clients), "--queries", str(args.queries)]  # fmt: skip
        done = subprocess.run(cmd, cwd=code, env={**os.environ, "AER_THREADS": str(args.server_threads)},
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the library phase failed:\n{done.stderr[-2000:]}")
        found = json.loads(out.read_text())
    return found["modality"], found["queries"], found["library"]


def start(path: Path, token: str, threads: int, code: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "AER_API_TOKEN": token, "AER_THREADS": str(threads), "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-c", "from cli.main import main; main()", "serve", str(path), "--port", str(port),
           "--device", "cpu", "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=code, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"aer serve exited with {proc.returncode}")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("aer serve did not start within 180 s")


def request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:  # fmt: skip
    """One request (on ``conn``, kept open, else on a new connection): status and body."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if data is not None else {})}
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def client_loop(port: int, queries: list[dict[str, Any]], latencies: list[float], errors: list[str]) -> None:
    paths = ["/search?" + urlencode(params) for params in queries]  # built before the clock runs
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths:
        t0 = time.perf_counter()
        try:
            status, body = request(port, "GET", path, conn=conn)
            problem = None if status == 200 else f"{status} {body[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            problem = repr(exc)[:200]
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - t0)
        if problem:
            errors.append(problem)
    conn.close()


def writer_loop(port: int, token: str, modality: str, batch: int, stop: threading.Event, out: dict[str, Any]) -> None:
    """Add batches of new items until ``stop``; count what the server says it added."""
    import httpx

    rng = np.random.default_rng(0)
    words = "orbit shuttle launch engine brake doctor patient graphics window hockey game".split()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120, headers=headers) as c:
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


def png(rng: np.random.Generator) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def http_phase(port: int, queries: list[dict[str, Any]], clients: int, cpu: int,
               writer: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """``clients`` threads send ``queries`` (with the writer of ``writer`` meanwhile), pinned to ``cpu``."""
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, args=(port, queries[i::clients], latencies, errors))
               for i in range(clients)]  # fmt: skip
    extra = []
    if writer is not None:
        extra = [threading.Thread(target=writer_loop, args=(port, *writer["args"], stop, writer))]
    was = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # this thread; the threads it starts inherit it
    try:
        t0 = time.perf_counter()
        for t in extra + threads:
            t.start()
    finally:
        os.sched_setaffinity(0, was)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    for t in extra:
        t.join()
    return {**summary(latencies, wall), "errors": len(errors), "error_samples": errors[:5]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = None
    path = args.collection.resolve()
    if not args.in_place:
        work = Path(tempfile.mkdtemp(prefix="aer-load-"))
        path = Path(shutil.copytree(path, work / path.name))
    code = (args.code or ROOT).resolve()
    cpu = max(os.sched_getaffinity(0))  # the load generator's core
    try:
        modality, queries, library = measure_library(path, args, code)
        token = secrets.token_urlsafe(24)
        proc, port = start(path, token, args.server_threads, code)
        try:
            for params in queries[:20]:  # warm-up, not measured
                request(port, "GET", "/search?" + urlencode(params))
            before = json.loads(request(port, "GET", "/healthz")[1])["items"]
            search_only = http_phase(port, queries, args.clients, cpu)
            wrote: dict[str, Any] = {"writes": 0, "added": 0, "errors": [], "latencies": [],
                                     "args": (token, modality, args.write_batch)}  # fmt: skip
            with_writer = http_phase(port, queries, args.clients, cpu, writer=wrote)
            after = json.loads(request(port, "GET", "/healthz")[1])["items"]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    write_ms = np.array(wrote["latencies"] or [0.0]) * 1000
    with_writer.update(errors=with_writer["errors"] + len(wrote["errors"]),
                       error_samples=(with_writer["error_samples"] + wrote["errors"])[:5])  # fmt: skip
    return {
        "collection": str(args.collection), "modality": modality, "items": before, "clients": args.clients,
        "server_threads": args.server_threads, "load_generator": f"pinned to CPU {cpu} (os.sched_setaffinity)",
        "cpus": os.cpu_count(),
        "http_over_library": round(search_only["qps"] / library["qps"], 2),
        "phases": [{"phase": "library search (one process)", **library, "errors": 0},
                   {"phase": "HTTP search only", **search_only},
                   {"phase": "HTTP with a writer", **with_writer}],
        "errors": search_only["errors"] + with_writer["errors"],
        "writes": wrote["writes"], "write_batch": args.write_batch if modality == "text" else 1,
        "write_p50_ms": round(float(np.percentile(write_ms, 50)), 2), "added": wrote["added"],
        "items_before": before, "items_after": after, "nothing_lost": after == before + wrote["added"],
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The phases as a markdown table."""
    cols = ["phase", "queries", "qps", "p50_ms", "p99_ms", "errors"]
    lines = [cols, ["---"] * len(cols), *([str(p[c]) for c in cols] for p in result["phases"])]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def record(out: Path, run: dict[str, Any]) -> None:
    """Put ``run`` first among the runs of ``out``'s results.json (replacing one of the same name) and render."""
    from retrieval.bench.pages import RESULTS
    from retrieval.bench.record import write_results

    kept = []
    if (out / RESULTS).exists():
        old = json.loads((out / RESULTS).read_text())
        kept = [r for r in old.get("runs", [old]) if r.get("name") and r.get("name") != run["name"]]
    write_results(out, {"suite": "load-test", "title": TITLE, "about": ABOUT, "runs": [run, *kept]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("collection", type=Path)
    parser.add_argument("--clients", type=int, default=8, help="Concurrent searching clients.")
    parser.add_argument("--queries", type=int, default=1000, help="Searches per client, in each HTTP phase.")
    parser.add_argument("--write-batch", type=int, default=10, help="Text items per write.")
    parser.add_argument("--server-threads", type=int, default=1, help="AER_THREADS of the server and library.")
    parser.add_argument("--in-place", action="store_true", help="Serve the collection itself, not a copy.")
    parser.add_argument("--code", type=Path, default=None, help="Run the library and server from this checkout.")
    parser.add_argument("--code-commit", default=None, help="The commit --code holds (recorded as the run's).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="Record the run in this folder's results.json.")
    parser.add_argument("--name", default="latest", help="The run's name in results.json (one of a name is kept).")
    parser.add_argument("--title", default=None, help="The run's heading on the page.")
    parser.add_argument("--library-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_worker is not None:
        library_worker(args.collection, args.library_worker, args.clients * args.queries, args.seed,
                       args.server_threads, (args.code or ROOT).resolve())  # fmt: skip
        return
    result = run(args)
    print(table(result))
    print(f"HTTP / library: {result['http_over_library']}; errors {result['errors']}, "
          f"nothing lost: {result['nothing_lost']}")  # fmt: skip
    if args.out:
        from retrieval.bench.record import provenance

        header = provenance()  # after the run: torch and faiss stay out of the clients' process while it lasts
        if args.code is not None:  # the code that ran, not this checkout's
            header["commit"] = args.code_commit or f"the checkout at {args.code}"
        record(args.out, {"name": args.name, "title": args.title or args.name, **header, **result})
    if result["errors"] or not result["nothing_lost"]:
        raise SystemExit(f"FAILED: {result['errors']} errors, nothing_lost={result['nothing_lost']}")


if __name__ == "__main__":
    main()

"""Fault injection across the write path (issue 30's acceptance run): a failed write loses nothing, raises the
project's error (JSON 503 / 507 through the server) and leaves ``len``, ``search``, a fresh open and ``verify``
agreeing with the files.

    python benchmarks/fault_injection.py --out benchmarks/results/fault-injection

Each scenario (library or server; text, image, or binary text keeping float codes; add, update, delete, or indexing
a new collection) runs once without faults to count its write steps (``fault_steps.py``: each fsync, rename, hard
link, faiss write, store statement and commit). Then, on a fresh copy of the collection each time, the N-th step
fails, for every N and every error that kind of step can meet, and once more under a really full SQLite file. After
each fault:

- the library raised a ``RetrievalError``; the server answered JSON, 507 for a full disk and 503 for another
  storage error. Any other exception escaping, a 500 ``internal_error``, a body that is not JSON or holds
  "Traceback", or a traceback the server logged counts as a traceback; another error or status as a wrong answer;
- the collection as the writer holds it (``len``, every id a search returns, the top 10 with scores) equals a
  fresh ``retrieval.open`` of the files, whose store lists exactly what its search returns; ``verify`` is ok; no
  ``.tmp``, ``.new``, ``.prev`` or ``.creating`` file is left; the items are those before the write or at one of
  its commit points (an add commits in chunks). An item held before the write, and not one it deletes, that is
  missing is lost; any other difference is a disagreement;
- then the same fault again, on the collection (or server) the first one left, checked the same way (nothing the
  first attempt committed may go); then the same write with no fault succeeds, on the same open collection or
  server, and leaves what the write makes, all agreeing again. The plan is exhaustive and the items seeded: every
  run injects the same faults.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from fault_report import write_results  # noqa: E402
from fault_steps import DISK_FULL, ERRORS, Injector, full_store, injecting  # noqa: E402

import retrieval  # noqa: E402
from retrieval import Document, ImageItem  # noqa: E402
from retrieval.errors import RetrievalError  # noqa: E402
from retrieval.server.app import create_app  # noqa: E402
from retrieval.collection.verify import verify  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "fault-injection-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPICS = {
    "space": "orbit shuttle launch rocket moon satellite astronaut payload mission booster".split(),
    "autos": "engine car brake tire dealer gearbox clutch sedan mileage wheel".split(),
    "medicine": "doctor patient disease symptom treatment drug clinic infection vitamin therapy".split(),
}
QUERY = "rocket orbit engine doctor"
ALL = 1000  # a search depth above every collection's size: the search returns every item
LEFTOVERS = (".tmp", ".new", ".prev")


def texts(n: int, seed: int, prefix: str) -> list[Document]:
    rng = np.random.default_rng(seed)
    labels = list(TOPICS)
    return [Document(id=f"{prefix}-{i:02d}", label=labels[i % 3],
                     text=" ".join(rng.choice(TOPICS[labels[i % 3]], size=12))) for i in range(n)]  # fmt: skip


def images(n: int, seed: int, prefix: str) -> list[ImageItem]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = rng.integers(0, 60, size=(32, 32, 3)).astype(np.int16)
        img[..., i % 3] += 180
        out.append(ImageItem(id=f"{prefix}-{i:02d}", pixels=np.clip(img, 0, 255).astype(np.uint8), label=f"c{i % 3}"))
    return out


# --- what the collection holds -------------------------------------------------------------------------------


def col_view(col: retrieval.Collection, anchor: str | None) -> dict[str, Any]:
    """``len``, every id a search returns, the top 10 with scores (images: the items like ``anchor``, and it)."""
    hits = col.search(QUERY, k=ALL) if anchor is None else col.search_by_id(anchor, k=ALL)
    return {"len": len(col), "ids": sorted([h.id for h in hits] + ([anchor] if anchor else [])),
            "top": [[h.id, round(h.score, 4)] for h in hits[:10]]}  # fmt: skip


def server_view(client: TestClient, anchor: str | None) -> dict[str, Any]:
    """What ``col_view`` gives, asked of the server."""
    count = client.get("/healthz").json()["items"]
    found = client.get(f"/items/{anchor}/similar", params={"k": ALL}) if anchor else \
        client.get("/search", params={"q": QUERY, "k": ALL})  # fmt: skip
    hits = found.json()["hits"]
    return {"len": count, "ids": sorted([h["id"] for h in hits] + ([anchor] if anchor else [])),
            "top": [[h["id"], round(h["score"], 4)] for h in hits[:10]]}  # fmt: skip


def files_state(path: Path, anchor: str | None) -> tuple[dict[str, list], dict[str, Any]] | None:
    """What a fresh open of the files sees: the store's ``[snippet, label]`` by id, and its view (``None``: no
    collection at ``path``)."""
    if not (path / "collection.json").exists():
        return None
    with retrieval.open(path, device="cpu") as col:
        return {r.id: [r.snippet, r.label] for r in col.store.by_keys(col.item_labels()).values()}, col_view(col, anchor)


# --- scenarios -------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    layer: str  # library | server
    modality: str
    op: str
    run: Callable[[Any], Any]  # the write, given the open collection (library; the target path for index) or client
    chunks: list[list[str]] = field(default_factory=list)  # the ids each commit of the write adds
    anchor: str | None = None  # images: the item whose neighbours a search asks for

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.modality}/{self.op}"


def post_texts(docs: list[Document]) -> Callable[[TestClient], Any]:
    body = [{"id": d.id, "text": d.text, "label": d.label} for d in docs]
    return lambda c: c.post("/items", json=body, headers=AUTH)


def post_image(item: ImageItem) -> Callable[[TestClient], Any]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(item.pixels).save(buf, format="PNG")
    upload = {"image": ("x.png", buf.getvalue(), "image/png")}
    return lambda c: c.post("/items", files=upload, data={"id": item.id, "label": item.label}, headers=AUTH)


INDEXED = texts(30, 3, "idx")


def index_new(target: Path) -> None:
    """Index ``INDEXED`` into ``target``: a new collection (an existing one, made before a fault, gets them added)."""
    options = {} if (target / "collection.json").exists() else {"encoder": "lsa", "dim": 8}
    retrieval.index_source(INDEXED, target, device="cpu", commit_every=10, **options)


def scenarios() -> list[Scenario]:
    new_t, new_i = texts(6, 1, "new"), images(4, 1, "new")
    upd_t = Document(id="doc-04", text="gearbox clutch sedan brake engine", label="autos")
    upd_i = ImageItem(id="img-04", pixels=images(5, 2, "x")[4].pixels, label="changed")

    def ids(items: list) -> list[str]:
        return [i.id for i in items]

    return [
        Scenario("library", "text", "add", lambda c: c.add(new_t, commit_every=3), [ids(new_t[:3]), ids(new_t[3:])]),
        Scenario("library", "text", "update", lambda c: c.update(upd_t)),
        Scenario("library", "text", "delete", lambda c: c.delete(["doc-01", "doc-02"])),
        Scenario("library", "text", "index", index_new, [ids(INDEXED[i : i + 10]) for i in (0, 10, 20)]),
        # a binary collection keeping float codes: the float_codes rows written and deleted with the items
        Scenario("library", "binary", "add", lambda c: c.add(new_t, commit_every=3), [ids(new_t[:3]), ids(new_t[3:])]),
        Scenario("library", "binary", "update", lambda c: c.update(upd_t)),
        Scenario("library", "binary", "delete", lambda c: c.delete(["doc-01", "doc-02"])),
        Scenario("library", "image", "add", lambda c: c.add(new_i, commit_every=2), [ids(new_i[:2]), ids(new_i[2:])],
                 anchor="img-00"),  # fmt: skip
        Scenario("library", "image", "update", lambda c: c.update(upd_i), anchor="img-00"),
        Scenario("library", "image", "delete", lambda c: c.delete(["img-01", "img-02"]), anchor="img-00"),
        Scenario("server", "text", "add", post_texts(new_t)),
        Scenario("server", "text", "update", post_texts([upd_t])),
        Scenario("server", "text", "delete", lambda c: c.delete("/items/doc-01", headers=AUTH)),
        Scenario("server", "image", "add", post_image(new_i[0]), anchor="img-00"),
        Scenario("server", "image", "update", post_image(upd_i), anchor="img-00"),
        Scenario("server", "image", "delete", lambda c: c.delete("/items/img-01", headers=AUTH), anchor="img-00"),
    ]


# --- one write, as the library or the server does it ---------------------------------------------------------------


class Logged(logging.Handler):
    """Counts the tracebacks the server logs (``log.exception``): an unexpected exception reached its last handler."""

    def __init__(self) -> None:
        super().__init__()
        self.tracebacks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.tracebacks += record.exc_info is not None


LOGGED = Logged()


@dataclass
class Outcome:
    ok: bool
    answer: str  # the error's class (library) or the status and error code (server); "ok"
    traceback: bool = False


def library_write(run: Callable[[], Any]) -> Outcome:
    try:
        run()
    except RetrievalError as exc:
        return Outcome(False, type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - what the run counts
        return Outcome(False, f"{type(exc).__name__}: {exc}", traceback=True)
    return Outcome(True, "ok")


def server_write(run: Callable[[], Any]) -> Outcome:
    logged = LOGGED.tracebacks
    response = run()
    try:
        body = response.json()
    except ValueError:
        body = None
    traced = (body is None or "Traceback" in response.text or body.get("error") == "internal_error"
              or LOGGED.tracebacks > logged)  # fmt: skip
    code = body.get("error", "") if isinstance(body, dict) else ""
    return Outcome(response.status_code < 300, f"{response.status_code} {code}".strip(), traced)


@contextlib.contextmanager
def opened(sc: Scenario, target: Path) -> Iterator[tuple[Callable, Callable, Callable]]:
    """``(write, view, fill)``: the scenario's write as an ``Outcome``; the writer's view of the collection (``None``
    for a new one); making its SQLite file full (returns the undo)."""
    if sc.op == "index":
        yield (lambda: library_write(lambda: sc.run(target))), (lambda: None), (lambda: lambda: None)
    elif sc.layer == "library":
        col = retrieval.open(target, device="cpu")
        try:
            yield (lambda: library_write(lambda: sc.run(col))), (lambda: col_view(col, sc.anchor)), \
                (lambda: full_store(col.store.engine))  # fmt: skip
        finally:
            col.close()
    else:
        app = create_app(target, token=TOKEN, device="cpu", refresh_s=0)

        def fill() -> Callable[[], None]:
            with app.state.served.reading() as col:
                return full_store(col.store.engine)

        with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
            yield (lambda: server_write(lambda: sc.run(client))), (lambda: server_view(client, sc.anchor)), fill


def seen(view: Callable[[], dict | None]) -> dict | None:
    """The writer's view, or the error asking for it raised (then unlike any fresh open's)."""
    try:
        return view()
    except RetrievalError as exc:
        return {"error": str(exc)}


def commit_points(before: dict | None, after: dict, chunks: list[list[str]]) -> list[dict | None]:
    """The states a write may leave when it fails: before it (``None``: no collection yet; then also an empty
    one), after each of its commits, after it."""
    points: list[dict | None] = [before] + ([{}] if before is None else [])
    held = dict(before or {})
    for chunk in chunks:
        held = {**held, **{i: after[i] for i in chunk}}
        points.append(held)
    return points + ([after] if points[-1] != after else [])


class Run:
    """Injects every fault of each scenario and keeps one record per fault."""

    def __init__(self, tmp: Path, docs: list[Document], imgs: list[ImageItem]) -> None:
        self.tmp, self.copies = tmp, 0
        self.base = {"text": tmp / "text.aer", "image": tmp / "image.aer", "binary": tmp / "binary.aer"}
        retrieval.index_source(docs, self.base["text"], encoder="lsa", dim=8, device="cpu")
        retrieval.index_source(docs, self.base["binary"], bits=16, keep_float=True, dim=8, hidden=(16,), epochs=2,
                               teacher="none", device="cpu", progress=False)  # fmt: skip
        retrieval.index_source(imgs, self.base["image"], encoder="pca", dim=8, device="cpu")
        self.faults: list[dict[str, Any]] = []
        self.unfired: list[dict[str, Any]] = []  # a full SQLite file under a write that needed no new page
        self.steps: dict[str, dict[str, int]] = {}

    def target(self, sc: Scenario) -> Path:
        """A fresh copy of the scenario's collection (for ``index``: a path where none is yet)."""
        self.copies += 1
        path = self.tmp / f"c{self.copies}.aer"
        if sc.op != "index":
            shutil.copytree(self.base[sc.modality], path)
        return path

    def scenario(self, sc: Scenario) -> None:
        target = self.target(sc)
        before = files_state(target, sc.anchor)
        counting = Injector()
        with opened(sc, target) as (write, _view, _fill), injecting(counting):
            outcome = write()
        if not outcome.ok:
            raise SystemExit(f"{sc.name}: fails without a fault: {outcome.answer}")
        stages = commit_points(before and before[0], files_state(target, sc.anchor)[0], sc.chunks)
        shutil.rmtree(target)
        plan = [(n, kind, error) for n, kind in enumerate(counting.steps, 1) for error in ERRORS[kind]]
        plan += [] if sc.op == "index" else [(0, "sqlite-file", "max_page_count")]
        self.steps[sc.name] = dict(Counter(counting.steps))
        print(f"{sc.name}: {len(counting.steps)} write steps {self.steps[sc.name]}, {len(plan)} faults", flush=True)
        for step, kind, error in plan:
            self.fault(sc, step, kind, error, stages)

    def fault(self, sc: Scenario, step: int, kind: str, error: str, stages: list[dict | None]) -> None:
        """The fault, then the same fault again on the collection (or server) it left, then the write with none."""
        target = self.target(sc)
        # a failed write changes nothing, bar the commits of an add's earlier chunks (a new collection's items are
        # all committed before its manifest is annotated)
        failed = stages if sc.op == "index" else stages[:-1]
        with opened(sc, target) as (write, view, fill):
            for repeat in (False, True):
                rec: dict[str, Any] = {"scenario": sc.name, "layer": sc.layer, "step": step, "kind": kind,
                                       "error": error, "repeat": repeat, "problems": [], "lost": 0}  # fmt: skip
                inj = Injector(step or None, error, kind)
                undo = fill() if kind == "sqlite-file" else None
                with injecting(inj):
                    outcome = write()
                if undo is not None:
                    undo()
                fired = bool(inj.fired) or (kind == "sqlite-file" and not outcome.ok)
                rec.update(answer=outcome.answer, traceback=outcome.traceback, absorbed=outcome.ok and fired)
                if not fired and not repeat and kind != "sqlite-file":
                    rec["problems"].append("the step never came: the write's steps differ from the counting run")
                if not outcome.ok and not outcome.traceback:
                    self.check_answer(rec, sc, outcome)
                state = self.judge(rec, sc, target, seen(view), failed if not outcome.ok else stages[-1:], "")
                (self.faults if fired or rec["problems"] else self.unfired).append(rec)
                if outcome.ok:
                    break
                failed = failed[failed.index(state) :] if state in failed else failed  # what it committed stays
            else:
                again = write()
                if not again.ok:
                    rec["problems"].append(f"the write again failed: {again.answer}")
                rec["traceback"] = rec["traceback"] or again.traceback
                self.judge(rec, sc, target, seen(view), stages[-1:], "after the write again: ")
        shutil.rmtree(target, ignore_errors=True)

    @staticmethod
    def check_answer(rec: dict[str, Any], sc: Scenario, outcome: Outcome) -> None:
        """The server says 507 for a full disk and 503 for another storage error; the library's error is a
        ``RetrievalError`` (checked where it is caught)."""
        if sc.layer == "server" and outcome.answer.split()[0] != ("507" if rec["error"] in DISK_FULL else "503"):
            rec["problems"].append(f"answered {outcome.answer} to {rec['error']}")
            rec["wrong_answer"] = True

    @staticmethod
    def judge(rec: dict[str, Any], sc: Scenario, target: Path, mem: dict | None, stages: list, when: str) -> Any:
        """Compare the writer's view, a fresh open, ``verify`` and the store with the states the write may leave;
        return the store's items (``None``: no collection)."""
        problems = rec["problems"]
        try:
            found = files_state(target, sc.anchor)
        except RetrievalError as exc:
            problems.append(f"{when}a fresh open fails: {exc}")
            return "unopened"
        state = found[0] if found else None
        left = [p.name for p in target.parent.glob(f".{target.name}.creating-*")]
        if found:
            if mem is not None and mem != found[1]:
                problems.append(f"{when}the writer sees {mem}, a fresh open {found[1]}")
            if found[1]["ids"] != sorted(state) or found[1]["len"] != len(state):
                problems.append(f"{when}a fresh open's search and len differ from its store")
            checked = verify(target)
            if not checked.ok:
                problems.append(f"{when}verify: {'; '.join(checked.problems)}")
            left += [p.name for p in target.iterdir() if p.name.endswith(LEFTOVERS)]
        if left:
            problems.append(f"{when}files left: {left}")
        if state not in stages:
            lost = set(stages[0] or {}) & set(stages[-1] or {}) - set(state or {})
            rec["lost"] = max(rec["lost"], len(lost))
            problems.append(f"{when}lost {sorted(lost)}" if lost else f"{when}not a state the write may leave")
        return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fault-injection")
    parser.add_argument("--only", default="", help="only the scenarios whose name holds this, e.g. server/text")
    args = parser.parse_args()
    serve_log = logging.getLogger("aer.serve")
    serve_log.propagate = False  # the expected storage errors stay quiet; tracebacks are counted
    serve_log.addHandler(LOGGED)
    with tempfile.TemporaryDirectory(prefix="aer-faults-") as tmp:
        run = Run(Path(tmp), texts(30, 0, "doc"), images(24, 0, "img"))
        for sc in scenarios():
            if args.only in sc.name:
                run.scenario(sc)
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    command = "python benchmarks/fault_injection.py" + (f" --only {args.only}" if args.only else "")
    write_results(args.out, run.faults, run.unfired, run.steps, commit=git("rev-parse", "HEAD"),
                  dirty=bool(git("status", "--porcelain", "--", "retrieval", "indexers")), command=command)  # fmt: skip


if __name__ == "__main__":
    main()

"""Two Ray nodes on this machine (``ray.cluster_utils.Cluster``: two raylets, resources ``node_a`` / ``node_b``),
and the worker node killed in the middle of a build, an encode and a search (issue 35 item 3).

The head node (``node_a``) runs the Ray control store and this test's driver: losing it loses the cluster, so the
node killed is always ``node_b``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import retrieval
from retrieval import cluster as ray_cluster
from retrieval.collection import ingest
from retrieval.collection.verify import verify

from .conftest import make_docs

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[1]
# Node failures noticed within about a second and a half, not Ray's default of fifteen.
FAST_FAILURE = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 3}
STORE = 80 * 2**20  # object store bytes per node


class TwoNodes:
    """A two-node Ray cluster; ``restore()`` brings ``node_b`` back after a test killed it."""

    def __init__(self) -> None:
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "resources": {"node_a": 1}, "object_store_memory": STORE,
                            "include_dashboard": False, "_system_config": FAST_FAILURE},
        )  # fmt: skip
        self.node_b = self._add_b()
        # the test package on the workers' path: the fake encoders (tests/fakes.py) unpickle there
        ray.init(address=self.cluster.address, log_to_driver=False, include_dashboard=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})  # fmt: skip

    def _add_b(self):  # noqa: ANN202 (ray's Node)
        return self.cluster.add_node(num_cpus=1, resources={"node_b": 1}, object_store_memory=STORE)

    @property
    def a(self) -> str:
        return self.cluster.head_node.node_id

    @property
    def b(self) -> str:
        return self.node_b.node_id

    def kill_b(self) -> None:
        """Kill node_b's raylet and its workers outright (no graceful drain), and wait until Ray knows."""
        self.cluster.remove_node(self.node_b, allow_graceful=False)
        deadline = time.monotonic() + 30
        while self.b in ray_cluster.alive_nodes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.b not in ray_cluster.alive_nodes(), "Ray never noticed node_b die"

    def restore(self) -> None:
        if self.b not in ray_cluster.alive_nodes():
            self.node_b = self._add_b()
            self.cluster.wait_for_nodes()

    def close(self) -> None:
        ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def two_node_cluster():
    if ray.is_initialized():  # another module's cluster
        ray.shutdown()
    nodes = TwoNodes()
    try:
        yield nodes
    finally:
        nodes.close()


@pytest.fixture
def nodes(two_node_cluster: TwoNodes) -> TwoNodes:
    """The two-node cluster with both nodes alive."""
    two_node_cluster.restore()
    assert len(ray_cluster.alive_nodes()) == 2
    return two_node_cluster


def write_jsonl(path: Path, docs: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, lab, t in docs))
    return path


def _ids_exactly_once(path: Path, docs: list[tuple[str, str, str]]) -> None:
    """``verify`` passes and the collection holds every document once: store, index and keys agree."""
    report = verify(path)
    assert report.ok, report.problems
    with retrieval.open(path) as col:
        keys = col.store.keys_of([d[0] for d in docs])
        assert sorted(keys) == sorted(d[0] for d in docs)
        assert len(col) == len(docs) == len(col.index) == len(set(keys.values()))
        assert sorted(col.index.keys().tolist()) == sorted(keys.values())


def _warm(on: ray_cluster.RayCluster) -> None:
    """A worker on each node that has read the fake encoders' module (a new one takes seconds to): without it
    the first chunks of a build all go to the node whose worker is up first."""
    from retrieval.encoders import create_encoder

    texts = [text for _, _, text in make_docs(per_topic=4)]
    encoder = create_encoder("fake-text", dim=16)
    encoder.fit(texts)
    for _ in range(20):
        on.encoder_pool(encoder)(texts)
        if len(on.encoded_on) == 2:
            break
    assert len(on.encoded_on) == 2
    on.encoded_on.clear()


class Slow:
    """An encoder that takes a while per call and leaves a file naming the node each call started on."""

    def __init__(self, encoder, marks: Path) -> None:  # noqa: ANN001
        self.encoder, self.marks = encoder, marks

    def encode_with_errors(self, items):  # noqa: ANN001, ANN201
        node = ray.get_runtime_context().get_node_id()
        (self.marks / f"{node}-{time.monotonic_ns()}").touch()
        time.sleep(0.4)
        return self.encoder.encode_with_errors(items)


def test_an_encode_spread_over_both_nodes_completes_when_one_dies_in_the_middle(tmp_path, nodes):
    from retrieval.encoders import create_encoder

    texts = [text for _, _, text in make_docs(per_topic=40)]
    encoder = create_encoder("fake-text", dim=16)
    encoder.fit(texts)
    want, _ = encoder.encode_with_errors(texts)
    marks = tmp_path / "marks"
    marks.mkdir()
    on = ray_cluster.RayCluster("auto")
    encode = on.encoder_pool(Slow(encoder, marks))
    ray_cluster.ENCODE_BATCH, batch = 10, ray_cluster.ENCODE_BATCH  # 12 tasks of 10 items
    try:
        codes, _ = encode(texts[:40])  # both nodes alive: both encode
        assert set(on.encoded_on) == {nodes.a, nodes.b}
        np.testing.assert_array_equal(codes, want[:40])
        for mark in marks.iterdir():
            mark.unlink()
        done: dict[str, object] = {}
        worker = threading.Thread(target=lambda: done.update(result=encode(texts)))
        worker.start()
        deadline = time.monotonic() + 30
        while not any(m.name.startswith(nodes.b) for m in marks.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(m.name.startswith(nodes.b) for m in marks.iterdir()), "no task started on node_b"
        nodes.kill_b()  # a task is running there now
        worker.join(60)
        assert not worker.is_alive()
    finally:
        ray_cluster.ENCODE_BATCH = batch
    codes, _ = done["result"]  # every batch came back, the lost ones encoded again on node_a
    np.testing.assert_array_equal(codes, want)


def test_a_build_whose_node_dies_fails_clearly_and_a_rerun_completes_it(tmp_path, nodes, monkeypatch):
    docs = make_docs(per_topic=100)
    source = write_jsonl(tmp_path / "corpus.jsonl", docs)
    path = tmp_path / "c.aer"
    on = ray_cluster.RayCluster("auto")
    monkeypatch.setattr(ingest, "_cluster", lambda address: on if address else None)  # to see where it encoded
    _warm(on)

    def kill_once_both_encoded() -> None:
        # both nodes have encoded, and chunk 3 is being encoded: chunks 1 and 2 are committed, 27 are to come
        deadline = time.monotonic() + 60
        while (len(on.encoded_on) < 2 or on.encoded_on.total() < 6) and time.monotonic() < deadline:
            time.sleep(0.01)
        nodes.kill_b()

    killer = threading.Thread(target=kill_once_both_encoded)
    killer.start()
    with pytest.raises(ray_cluster.ShardsUnavailable) as failed:  # the shard actors on node_b are gone
        retrieval.index_source(source, path, encoder="fake-text", dim=16, ray="auto", shards=2, commit_every=10)
    killer.join()
    assert set(on.encoded_on) == {nodes.a, nodes.b}  # the build encoded on both nodes
    assert failed.value.missing and failed.value.shards == 2
    assert "Reopen" in str(failed.value) and "shard" in str(failed.value)
    assert verify(path).ok  # what was committed before the failure is whole
    with retrieval.open(path) as col:
        committed = len(col)
    assert 0 < committed < len(docs)
    report = retrieval.index_source(source, path, ray="auto")  # run again: on the node that is left
    assert report.added == len(docs) - committed and report.updated == committed
    _ids_exactly_once(path, docs)


def test_a_search_over_shards_on_both_nodes_answers_whole_or_names_the_missing_shards(tmp_path, nodes):
    docs = make_docs(per_topic=30)
    path = tmp_path / "c.aer"
    retrieval.index_source(write_jsonl(tmp_path / "corpus.jsonl", docs), path, encoder="fake-text", dim=16, shards=2)
    queries = ["rocket orbit launch", "engine brake wheel", "doctor patient therapy", "people think time"]
    with retrieval.open(path) as local:
        want = {q: [(h.id, round(h.score, 5)) for h in local.search(q, 20)] for q in queries}
    outcomes: list[object] = []
    stop = threading.Event()
    with retrieval.open(path, ray="auto") as col:
        held = ray_cluster.shard_nodes(col.index)
        assert sorted(held) == sorted([nodes.a, nodes.b])  # one shard on each node
        on_b = held.index(nodes.b)

        def search_until_stopped() -> None:
            while not stop.is_set():
                for q in queries:
                    try:
                        got = [(h.id, round(h.score, 5)) for h in col.search(q, 20)]
                        outcomes.append("whole" if got == want[q] else ("partial", q, got))
                    except ray_cluster.ShardsUnavailable as exc:
                        outcomes.append(("missing", exc.missing, exc.shards))
                    except Exception as exc:  # noqa: BLE001 (any other failure fails the test below)
                        outcomes.append(("error", repr(exc)))

        searcher = threading.Thread(target=search_until_stopped)
        searcher.start()
        while outcomes.count("whole") < 20:
            time.sleep(0.01)
        nodes.kill_b()
        deadline = time.monotonic() + 30
        while ("missing", (on_b,), 2) not in outcomes and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        searcher.join(60)
        assert set(map(str, outcomes)) <= {"whole", str(("missing", (on_b,), 2))}  # never a partial answer
        with pytest.raises(ray_cluster.ShardsUnavailable) as gone:  # every search from now on says so
            col.search("rocket orbit launch", 5)
        assert gone.value.missing == (on_b,) and gone.value.shards == 2
        assert f"shard {on_b}" in str(gone.value)
    with retrieval.open(path, ray="auto") as col:  # reopened: both shards held on the node that is left
        assert ray_cluster.shard_nodes(col.index) == [nodes.a, nodes.a]
        assert {q: [(h.id, round(h.score, 5)) for h in col.search(q, 20)] for q in queries} == want
    _ids_exactly_once(path, docs)  # nothing committed was lost


def test_a_write_that_loses_a_shard_changes_nothing_and_succeeds_when_run_again(tmp_path, nodes):
    docs = make_docs(per_topic=10)
    path = tmp_path / "c.aer"
    retrieval.index_source(write_jsonl(tmp_path / "corpus.jsonl", docs), path, encoder="fake-text", dim=16, shards=2)
    extra = [retrieval.Document(id="extra-1", text="rocket orbit launch shuttle", label="space")]
    with retrieval.open(path, ray="auto") as col:
        nodes.kill_b()
        with pytest.raises(ray_cluster.ShardsUnavailable):
            col.add(extra)
        assert len(col) == len(docs) and verify(path).ok  # nothing written
        col.add(extra)  # the failed write held the committed index again, on node_a
        assert ray_cluster.shard_nodes(col.index) == [nodes.a, nodes.a]
    _ids_exactly_once(path, [*docs, ("extra-1", "space", "")])

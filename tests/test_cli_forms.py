"""One command line form: ``aer COMMAND COLLECTION ...`` (the old ``aer index SOURCE -c COLLECTION`` still works,
with a note), ``-n/--limit`` beside ``-k``, ``--threads`` after the command, ``--help`` in sections, and ``aer serve``
refusing a port that is taken before it announces anything."""

from __future__ import annotations

import json
import os
import socket

import pytest
from click.testing import CliRunner

from cli.command import SECTIONS, AerCommand
from cli.main import main
from retrieval.threads import ENV, POOL_SIZE_VARIABLES

FAST = ["--encoder", "fake-text", "--dim", "32", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def built(runner, tmp_path_factory):
    """A collection made with the one form, ``aer index COLLECTION SOURCE``."""
    from .conftest import make_docs, write_corpus

    root = tmp_path_factory.mktemp("forms")
    source = write_corpus(root / "corpus", make_docs())
    out = runner.invoke(main, ["index", str(root / "c.aer"), str(source), *FAST])
    assert out.exit_code == 0, out.output
    assert "created" in out.stdout and "36 added" in out.stdout and "note:" not in out.stderr
    return root / "c.aer"


def test_the_old_index_form_still_works_with_a_one_line_note(runner, tmp_path, corpus_dir):
    out = runner.invoke(main, ["index", str(corpus_dir), "-c", str(tmp_path / "old.aer"), *FAST])
    assert out.exit_code == 0, out.output
    assert "created" in out.stdout and "36 added" in out.stdout
    notes = out.stderr.strip().splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: SOURCE -c COLLECTION is the old form")
    assert f"aer index {tmp_path / 'old.aer'} {corpus_dir}" in notes[0]
    out = runner.invoke(main, ["index", str(corpus_dir), "--collection", str(tmp_path / "old.aer"), "-q"])
    assert out.exit_code == 0 and "updated" in out.stdout, out.output  # the long spelling too, adding this time


def test_the_one_index_form_and_the_old_one_build_the_same_collection(runner, built, tmp_path, corpus_dir):
    runner.invoke(main, ["index", str(corpus_dir), "-c", str(tmp_path / "old.aer"), *FAST])
    info = [json.loads(runner.invoke(main, ["info", str(p), "--json"]).stdout) for p in (built, tmp_path / "old.aer")]
    assert info[0]["items"] == info[1]["items"] == 36 and info[0]["encoder"] == info[1]["encoder"]


def test_index_with_collection_given_twice_or_no_source_is_a_usage_error(runner, tmp_path, corpus_dir):
    out = runner.invoke(main, ["index", str(tmp_path / "a.aer"), str(corpus_dir), "-c", str(tmp_path / "b.aer")])
    assert out.exit_code == 2 and "give COLLECTION once" in out.output
    out = runner.invoke(main, ["index", str(tmp_path / "a.aer")])
    assert out.exit_code == 2 and "Missing argument 'SOURCE'" in out.output
    assert not (tmp_path / "a.aer").exists() and not (tmp_path / "b.aer").exists()


@pytest.mark.parametrize("flag", ["-k", "-n", "--limit"])
def test_query_takes_n_and_limit_as_k(runner, built, flag):
    out = runner.invoke(main, ["query", str(built), "orbit shuttle launch", flag, "5", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)) == 5


def test_outliers_take_n_as_k(runner, built):
    out = runner.invoke(main, ["outliers", str(built), "-n", "4", "--score", "knn", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)) == 4


def test_threads_after_the_command(runner, built, monkeypatch):
    for var in (ENV, "RAYON_NUM_THREADS", *POOL_SIZE_VARIABLES):  # set by --threads: restored after the test
        monkeypatch.setenv(var, "2")
    out = runner.invoke(main, ["info", str(built), "--threads", "1"])
    assert out.exit_code == 0, out.output
    assert os.environ[ENV] == "1" and all(os.environ[v] == "1" for v in POOL_SIZE_VARIABLES)
    assert runner.invoke(main, ["info", str(built), "--threads", "0"]).exit_code == 2  # refused by click


def test_every_command_takes_threads_and_lists_options_in_sections(runner):
    for name, command in main.commands.items():
        assert isinstance(command, AerCommand), name
        out = runner.invoke(main, [name, "--help"])
        assert out.exit_code == 0 and "--threads" in out.stdout, name
        headings = [line[:-1] for line in out.stdout.splitlines() if line.endswith(":") and not line.startswith(" ")]
        assert headings[0] == "Options" and headings == [s for s in SECTIONS if s in headings], (name, headings)


def test_index_help_puts_basic_options_first_and_tuning_after(runner):
    text = runner.invoke(main, ["index", "--help"], prog_name="aer").stdout
    assert text.splitlines()[0] == "Usage: aer index [OPTIONS] COLLECTION SOURCE"
    at = {heading: text.index(f"\n{heading}:\n") for heading in ("Options", "Index tuning", "Storage", "Cluster")}
    assert at["Options"] < at["Index tuning"] < at["Storage"] < at["Cluster"]
    assert at["Options"] < text.index("--encoder") < at["Index tuning"] < text.index("--memory-budget") < at["Storage"]
    assert at["Storage"] < text.index("--db URL") < at["Cluster"] < text.index("--ray ADDRESS")
    assert "--collection" not in text  # the old form works, the help shows the one form


def test_serve_refuses_a_port_in_use_before_announcing_it(runner, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = runner.invoke(main, ["serve", str(tmp_path / "never-opened.aer"), "--port", str(port)])
    assert out.exit_code == 1
    assert f"port {port} is in use" in out.stderr and "serving" not in out.output and "Traceback" not in out.output

"""Progress on stderr: a live bar on a terminal only; elsewhere one line per stage, never a carriage return."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.common import library_errors
from retrieval import progress
from retrieval.errors import CollectionError

from .conftest import write_corpus


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow
def test_aer_index_prints_one_line_per_stage_to_a_pipe(tmp_path, docs):
    corpus = write_corpus(tmp_path / "corpus", docs)
    args = ["--encoder", "ae", "--hidden", "16", "--dim", "4", "--epochs", "3", "-o", "teacher=none"]
    out = subprocess.run(
        [sys.executable, "-c", "import cli.main; cli.main.main()", "index", str(corpus), "-c", str(tmp_path / "c.aer"),
         *args],
        capture_output=True, text=True, cwd=Path(__file__).parent.parent, env={**os.environ, "AER_THREADS": "1"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr and "\x1b" not in out.stderr
    for stage in ("reading", "training autoencoder", "encoding"):
        lines = [line for line in out.stderr.splitlines() if line.startswith(f"{stage}: ")]
        assert len(lines) == 1, out.stderr
        assert re.fullmatch(rf"{stage}: done, [\d,]+ (items|epochs), \d+\.\d s.*", lines[0]), lines
    assert "reading: done, 36 items" in out.stderr and "encoding: done, 36 items" in out.stderr
    assert "created" in out.stdout


def test_quiet_means_no_stage_lines(tmp_path, docs):
    corpus = write_corpus(tmp_path / "corpus", docs)
    from cli.main import main

    out = CliRunner().invoke(main, ["index", str(corpus), "-c", str(tmp_path / "c.aer"), "--encoder", "tfidf", "-q"])
    assert out.exit_code == 0 and "reading" not in out.output and "encoding" not in out.output


def test_a_stage_over_an_iterable_says_done_with_its_count(capsys):
    assert list(progress.bar(range(3), desc="counting")) == [0, 1, 2]
    line = capsys.readouterr().err
    assert re.fullmatch(r"counting: done, 3 items, \d+\.\d s\n", line)


def test_a_loop_that_stops_early_says_where(capsys):
    bar = progress.bar(range(10), desc="training", unit="epoch")
    for epoch in bar:
        bar.set_postfix(loss="0.1234")
        if epoch == 3:
            break
    assert re.fullmatch(r"training: stopped after 4 of 10 epochs, \d+\.\d s, loss 0.1234\n", capsys.readouterr().err)


def test_a_stage_updated_by_hand(capsys):
    with progress.bar(desc="encoding", total=5) as bar:
        bar.update(2)
        bar.update(3)
    assert capsys.readouterr().err.startswith("encoding: done, 5 items,")
    with pytest.raises(ValueError), progress.bar(desc="encoding") as bar:
        bar.update(1)
        raise ValueError("boom")
    assert capsys.readouterr().err.startswith("encoding: stopped after 1 item,")


def test_disabled_bars_print_nothing(capsys):
    assert list(progress.bar(range(3), desc="reading", enabled=False)) == [0, 1, 2]
    with progress.bar(desc="encoding", total=2, enabled=False) as bar:
        bar.update(2)
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_live_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress.bar(desc="encoding", total=10)
    assert not isinstance(bar, progress.Stage)
    bar.update(5)
    bar.close()
    assert "\r" in sys.stderr.getvalue()


def _failing_command(stages: int):
    @click.command()
    @library_errors
    def cmd() -> None:
        bar = progress.bar(range(stages), desc="reading")
        for i in bar:
            if i == 2:
                raise CollectionError("the source went away")

    return cmd


def test_an_error_starts_on_its_own_line_after_the_stage_line():
    out = CliRunner().invoke(_failing_command(5), [])
    assert out.exit_code == 1
    assert re.search(r"(^|\n)reading: stopped after 3 of 5 items, \d+\.\d s\nError: the source went away\n$", out.output)


def test_an_error_clears_a_live_bar_before_it_is_printed(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with pytest.raises(click.ClickException):
        _failing_command(5).main([], standalone_mode=False)
    written = terminal.getvalue()
    assert written and written.endswith("\r")  # the bar's line is cleared: what is printed next starts at column 0
    assert not progress._open

"""The documentation: the generated encoder options page against the registered encoders, the site's strict
build (when the ``docs`` extra is installed), and the README's length and links."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
HAS_MKDOCS = all(importlib.util.find_spec(m) is not None for m in ("mkdocs", "material"))


def load_hooks() -> ModuleType:
    """``docs/hooks.py``, the module MkDocs runs (it is not a package)."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'); docs/hooks.py imports it")
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page_tables(markdown: str) -> dict[str, dict[str, str]]:
    """``{encoder: {option: default as shown}}`` from the options page's ``## `name``` sections and their tables."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in markdown.splitlines():
        heading = re.match(r"^## `([^`]+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| `([^`]+)` \| `([^`]*)` \|", line)
        if row and current is not None:
            assert row.group(1) not in current, f"option {row.group(1)} listed twice"
            current[row.group(1)] = row.group(2)
    return tables


def constructor_default(cls: type, param: str) -> Any:
    """The default of ``param`` as calling ``cls`` sees it: its signature (its config's, where it has one), else
    the first ``__init__`` along its MRO that gives one (a constructor passing ``**options`` on to its parent's)."""
    signatures = [inspect.signature(cls)]
    signatures += [inspect.signature(k.__init__) for k in cls.__mro__ if "__init__" in vars(k)]
    for signature in signatures:
        found = signature.parameters.get(param)
        if found is not None and found.default is not inspect.Parameter.empty:
            return found.default
    raise AssertionError(f"{cls.__name__}: no default for {param!r}")


def builtin_encoders() -> dict[str, type]:
    """The registered encoders ``--encoder`` can name that ship with the package (not the tests' fakes)."""
    from retrieval.encoders import ENCODERS

    return {name: cls for name, cls in ENCODERS.items() if cls.__module__.startswith("retrieval.")}


def test_options_page_lists_every_registered_encoder_and_option() -> None:
    from retrieval.encoders.catalog import format_default

    tables = page_tables(load_hooks().options_page())
    encoders = builtin_encoders()
    assert sorted(tables) == sorted(encoders), "the options page and the registry name different encoders"
    for name, cls in encoders.items():
        shown = tables[name]
        assert sorted(shown) == sorted(cls.param_names()), f"{name}: options differ from its constructor's"
        for param, default in shown.items():
            assert default == format_default(constructor_default(cls, param)), f"{name}.{param}: default differs"


def test_page_tables_sees_a_missing_option() -> None:
    """The parser the test above relies on: a row taken out of a section is missed, a section heading counts."""
    markdown = "## `ae` (text)\n\n| option | default | description |\n|---|---|---|\n| `dim` | `32` | width |\n"
    assert page_tables(markdown) == {"ae": {"dim": "32"}}
    assert page_tables(markdown.replace("| `dim` | `32` | width |\n", "")) == {"ae": {}}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MKDOCS, reason="mkdocs / mkdocs-material not installed (pip install -e '.[docs]')")
def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    options = (site / "encoder-options" / "index.html").read_text(encoding="utf-8")
    for name in builtin_encoders():
        assert f"<code>{name}</code>" in options, f"{name} missing from the built options page"
    assert (site / "benchmarks" / "results" / "build-cost" / "results" / "index.html").is_file()
    assert not (REPO / "docs" / "encoder-options.md").exists(), "the options page is generated, never written"


def test_readme_is_short_and_its_links_resolve() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, "the README links nothing"
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        target = REPO / link.split("#", 1)[0]
        assert target.exists(), f"README links {link}, which does not exist"

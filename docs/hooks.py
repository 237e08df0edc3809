"""MkDocs hooks (``hooks:`` in mkdocs.yml): pages made at build time from the code and the repository.

- ``encoder-options.md`` is generated from the registered encoders (``retrieval.encoders.catalog``), so the
  options table never drifts from the constructors;
- ``benchmarks/README.md`` and everything under ``benchmarks/results/`` and ``benchmarks/studies/`` (the generated
  results pages, their JSON, notes and pictures) are added to the site at ``benchmarks/``, as they sit in the
  repository;
- each folder under ``benchmarks/results/`` gets a generated ``index.md`` listing its files, so a link to a
  folder (``../benchmarks/results/rotation/``) has a page to land on, as it has when the repository is browsed;
- a page in ``docs/`` links to them as ``../benchmarks/...`` (the path that works when the Markdown is read
  in the repository); in the site that prefix is one level shorter, and ``on_page_markdown`` rewrites it
  (and a link to a folder to its ``index.md``).

Nothing is written into ``docs/``: the generated files exist only in the build.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

REPO = Path(__file__).resolve().parent.parent
OPTIONS_PAGE = "encoder-options.md"
BENCHMARKS = "benchmarks"
# what of benchmarks/ goes into the site: the pages and the files they link to (not the scripts)
BENCHMARK_SUFFIXES = {".md", ".png", ".json", ".log"}

OPTIONS_HEADER = """# Encoder options

Every option each encoder's constructor takes, with its default, generated from the code when this site is
built (`retrieval.encoders.catalog.options_markdown()`). Pass one to `aer index` as `-o NAME=VALUE` (or the
named flags `--dim`, `--bits`, `--hidden`, `--epochs`, `--vocab-size`, `--seed`), or as a keyword of
`retrieval.encoders.create_encoder(name, ...)`. What the encoders are and when to use which:
[Encoders](encoders.md).

"""


def options_page() -> str:
    """The encoder options page's Markdown: a header, then one section per registered encoder."""
    from retrieval.encoders.catalog import options_markdown

    return OPTIONS_HEADER + options_markdown(level=2)


def benchmark_files() -> list[tuple[str, Path]]:
    """``(site path, file)`` for the benchmark pages and the files they link to, sorted."""
    root = REPO / BENCHMARKS
    found = [root / "README.md"]
    found += [p for sub in ("results", "studies") for p in (root / sub).rglob("*") if p.is_file()]
    return sorted((p.relative_to(REPO).as_posix(), p) for p in found if p.suffix in BENCHMARK_SUFFIXES)


def folder_pages(uris: list[str]) -> dict[str, str]:
    """``{site path of a folder's index.md: its Markdown}`` for every folder under ``benchmarks/results/``:
    a list of the folder's subfolders and files, each a link (a subfolder's results page, its README.md, where it
    has one)."""
    folders: dict[str, set[str]] = {}
    for uri in uris:
        parts = uri.split("/")
        for depth in range(2, len(parts)):  # benchmarks/results and below
            folder, entry = "/".join(parts[:depth]), parts[depth]
            folders.setdefault(folder, set()).add(entry + "/" if depth < len(parts) - 1 else entry)
    pages = {}
    for folder, entries in folders.items():
        lines = [f"# {folder}/", "", "Generated from the repository's folder when the site was built.", ""]
        page = {e: "README.md" if f"{folder}/{e}README.md" in uris else "index.md" for e in entries if e.endswith("/")}
        lines += [f"- [{e}]({e}{page[e]})" if e.endswith("/") else f"- [{e}]({e})" for e in sorted(entries)]
        pages[folder + "/index.md"] = "\n".join(lines) + "\n"
    return pages


def on_files(files: Files, config: Any) -> Files:
    """Add the generated options page and the benchmark results (with folder pages) to the site's files."""
    files.append(File.generated(config, OPTIONS_PAGE, content=options_page()))
    bench = benchmark_files()
    # reachable by link, not listed in the navigation
    hidden = InclusionLevel.NOT_IN_NAV
    for uri, path in bench:
        files.append(File.generated(config, uri, abs_src_path=str(path), inclusion=hidden))
    for uri, text in folder_pages([u for u, _ in bench if u.startswith(BENCHMARKS + "/results/")]).items():
        readme = uri.removesuffix("index.md") + "README.md"  # a results page is the folder's page already
        if files.get_file_from_path(uri) is None and files.get_file_from_path(readme) is None:
            files.append(File.generated(config, uri, content=text, inclusion=hidden))
    return files


_FOLDER_LINK = re.compile(r"\]\(((?:\.\./)*" + BENCHMARKS + r"/[^)\s#]*/)\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Point ``docs/``'s repository-relative links to ``benchmarks/`` at the copies in the site; a link to a
    folder there at its ``index.md``."""
    if page.file.src_uri.startswith(BENCHMARKS + "/"):
        return markdown
    depth = page.file.src_uri.count("/")
    markdown = markdown.replace("](" + "../" * (depth + 1) + BENCHMARKS + "/", "](" + "../" * depth + BENCHMARKS + "/")
    return _FOLDER_LINK.sub(r"](\1index.md)", markdown)

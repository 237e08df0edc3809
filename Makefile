# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: install demo test test-all bench-text bench-image bench-scale clean docs

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0   # the CPU wheel; a GPU machine may install its own torch first
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: install
	rm -rf demo.aer
	$(BIN)/aer index demo.aer samples/newsgroups
	$(BIN)/aer query demo.aer "orbital launch of the shuttle" -n 5
	$(BIN)/aer info demo.aer

# The fast set: no PostgreSQL, Ray or browser, nothing marked slow (pyproject.toml's markers). test-all: everything.
test: install
	$(BIN)/python -m pytest -m "not slow and not postgres and not ray and not browser"

test-all: install
	$(BIN)/python -m pytest

bench-image: install
	$(BIN)/aer bench image --data ../shared/data/cifar-10-binary.tar.gz --out runs/image

bench-text: install
	$(BIN)/aer bench text --data ../shared/data/20news-bydate.tar.gz --out runs/text

bench-scale: install  # needs runs/text from bench-text (its ae-64bit and ae-32 collections)
	$(BIN)/python benchmarks/scale.py ingest --data ../shared/data/20news-bydate.tar.gz --out runs/scale
	$(BIN)/python benchmarks/scale.py indexes --binary runs/text/ae-64bit.aer --float runs/text/ae-32.aer --out runs/scale

# The documentation site, built offline into site/; --strict fails on any warning (a broken link or anchor too).
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

clean:
	rm -rf demo.aer runs .pytest_cache site

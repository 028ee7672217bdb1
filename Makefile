# losscraft developer entry points. `make demo` and `make test` work on a fresh machine:
# they create/refresh .venv and install everything from requirements-dev.txt + pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LINT   := src tests docs $(wildcard examples benchmarks)

.PHONY: help install demo test lint format typecheck docs bench clean

help:
	@echo "make demo       the guide on bundled data: profile, recommend, compare, report (~1 min;"
	@echo "                writes demo-output/; the catalog tour: python -m losscraft.showcase)"
	@echo "make test       ruff + the full test suite"
	@echo "make lint       ruff check + format check"
	@echo "make typecheck  mypy --strict on src/"
	@echo "make docs       regenerate docs/catalog.md, understanding-losses.md (+ images), choosing-a-loss.md"
	@echo "                and the site pages (docs/losses/, docs/api/); build the site into site/"
	@echo "make bench      benchmark suite vs torch/peers (~10 min, 2 threads): writes"
	@echo "                benchmarks/results/latest.json and docs/benchmarks.md"

$(STAMP): pyproject.toml requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m losscraft demo --out demo-output

test: $(STAMP)
	$(PY) -m ruff check $(LINT)
	$(PY) -m pytest -n 2
	# torch.compile(fullgraph=True) parity for every entry: deselected by default for speed, but
	# it catches compiler-only gradient bugs (sparsemax's, found this way), so CI runs it too.
	$(PY) -m pytest -n 2 -m compile

lint: $(STAMP)
	$(PY) -m ruff check $(LINT)
	$(PY) -m ruff format --check $(LINT)

format: $(STAMP)
	$(PY) -m ruff format $(LINT)
	$(PY) -m ruff check --fix $(LINT)

typecheck: $(STAMP)
	$(PY) -m mypy

docs: $(STAMP)
	$(PY) docs/gen_catalog.py
	$(PY) docs/gen_understanding.py
	$(PY) docs/gen_choosing.py
	$(PY) docs/gen_migrating.py
	$(PY) docs/gen_site.py
	$(PY) -m mkdocs build --strict --site-dir site

# The peers (kornia, MONAI, pytorch-metric-learning) come with the dev requirements; torch stays
# pinned first there. Run on a quiet machine: see benchmarks/README.md.
bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) benchmarks/bench_losses.py --out benchmarks/results/latest.json
	$(PY) docs/gen_benchmarks.py benchmarks/results/latest.json --out docs/benchmarks.md

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache .mypy_cache .hypothesis

# Recarga — `make demo` runs the local federation, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test lint services venv node clean insomnia containers
ARGS ?=

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/ensure-system-packages python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

services:
	@scripts/ensure-services

# newman, spectral, redocly and inso (package.json, pinned by package-lock.json)
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/ensure-system-packages nodejs npm
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

test: venv node services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

demo: venv services
	$(PY) scripts/demo.py $(DEMO_ARGS)

containers: venv  ## the federation in real containers, checked from outside (needs Docker)
	$(PY) scripts/containers.py $(ARGS)

insomnia: venv  ## regenerate insomnia/ from openapi/openapi.yaml
	$(PY) scripts/insomnia.py

clean:
	rm -rf $(VENV) node_modules build *.egg-info demo-run .pytest_cache

# Recarga — `make demo` runs the local federation, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test check unit lint services tools runtime venv node browser clean insomnia containers screenshots vendor
ARGS ?=

# runtime: what the demo needs; venv: that and the test toolchain (make test, make check)
runtime: $(VENV)/.runtime
venv: $(VENV)/.installed

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/ensure-system-packages python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.runtime

services:
	@scripts/ensure-services

# newman, spectral, redocly and inso (package.json, pinned by package-lock.json)
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/ensure-system-packages nodejs npm
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# the console's browser tests drive Debian's Chromium (Playwright cannot download its own here)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| [ -n "$$RECARGA_CHROMIUM" ] || scripts/ensure-system-packages chromium

# what README's recipes call, which the suite runs as written (tests/e2e/test_docs.py)
tools:
	@missing=(); for t in jq:jq curl:curl createdb:postgresql-client; do \
		command -v $${t%%:*} >/dev/null 2>&1 || missing+=($${t#*:}); done; \
		scripts/ensure-system-packages "$${missing[@]}"

test: check node services browser tools
	$(PY) -m pytest -q

check: venv  ## the static checks, in seconds: ruff (lint and format), the import rules, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

unit: venv  ## the pure core's tests (no database, broker or server), in seconds: one worker per core
	$(PY) -m pytest -q -n auto tests/unit

lint: venv
	$(VENV)/bin/ruff check .

demo: runtime services
	$(PY) scripts/demo.py $(DEMO_ARGS)

containers: venv  ## the federation in real containers, checked from outside (needs Docker)
	$(PY) scripts/containers.py $(ARGS)

screenshots: venv services browser  ## README's console screenshots, taken by the console's tests
	RECARGA_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/e2e/test_console.py tests/e2e/test_console_demo.py

vendor: node  ## copy the console's browser libraries from node_modules (after an upgrade)
	$(PY) scripts/vendor.py

insomnia: venv  ## regenerate insomnia/ from openapi/openapi.yaml
	$(PY) scripts/insomnia.py

clean:
	rm -rf $(VENV) node_modules build *.egg-info demo-run .pytest_cache

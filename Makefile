# Recarga — `make demo` runs the local federation, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=

.PHONY: demo test lint services venv node browser clean insomnia containers screenshots vendor
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

# the console's browser tests drive Debian's Chromium (Playwright cannot download its own here)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| [ -n "$$RECARGA_CHROMIUM" ] || scripts/ensure-system-packages chromium

test: venv node services browser
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

screenshots: venv services browser  ## README's console screenshots, taken by the console's tests
	RECARGA_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/e2e/test_console.py

vendor: node  ## copy the console's browser libraries from node_modules (after an upgrade)
	$(PY) scripts/vendor.py

insomnia: venv  ## regenerate insomnia/ from openapi/openapi.yaml
	$(PY) scripts/insomnia.py

clean:
	rm -rf $(VENV) node_modules build *.egg-info demo-run .pytest_cache

# Candor: two commands. `make run` serves the demo blog; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi
VNU_VERSION := 26.9.27

.PHONY: run test install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test
	@# The Nu HTML Checker comes from npm (vnu-jar) and runs with Java; the HTML tests use it when present.
	@if command -v npm >/dev/null 2>&1 && [ ! -f $(VENV)/vnu/node_modules/vnu-jar/build/dist/vnu.jar ]; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/vnu vnu-jar@$(VNU_VERSION) >/dev/null; \
	fi

run: install
	$(FLASK) db upgrade
	$(FLASK) demo
	$(FLASK) run --host $(HOST) --port $(PORT)

# Two workers by default (the machines have 2 cores, and much of a test's time is PostgreSQL, Chromium
# and the Nu checker): PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

test: install-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

LINTED := app tests bench config.py wsgi.py

lint: install-test
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

bench: install-test
	$(BIN)/python bench/bench_post_page.py
	$(BIN)/python bench/bench_diff.py
	$(BIN)/python bench/bench_comments.py
	$(BIN)/python bench/bench_wxr.py
	$(BIN)/python bench/bench_export.py

clean:
	rm -rf $(VENV) .pytest_cache test-output

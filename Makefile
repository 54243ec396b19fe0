# Directorate of Order. `make run` serves the app; `make test` runs every test.
SHELL := /bin/sh
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PROCESSES ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

MONGO_WORKERS ?= 2

.PHONY: run serve setup install install-dev test test-sqlite test-mongo mongo-server lint bench clean

run: install setup serve

setup:
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py seed_demo --if-empty

# PROCESSES server processes behind one port (default: one per core) and the worker (Nyx, payroll); Ctrl-C stops all.
serve:
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT) $(if $(PROCESSES),--processes $(PROCESSES))

$(BIN)/python:
	@test -n "$(PYTHON)" || exit 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev
	scripts/ensure-system-packages chromium:chromium redis-server:redis-server

# The whole suite, twice: on SQLite (or on a real MongoDB when TEST_MONGO_URI is set), then on MongoDB's
# wire protocol against local wire-compatible servers (tests/mongo_wire.py), even when the first run failed.
test: install-dev
	@status=0; $(MAKE) --no-print-directory test-sqlite || status=$$?; \
	$(MAKE) --no-print-directory test-mongo || status=$$?; exit $$status

test-sqlite: install-dev
	$(if $(TEST_MONGO_URI),MONGO_URI='$(TEST_MONGO_URI)') $(BIN)/python -m pytest $(PYTEST_ARGS)

# The MongoDB tier: one wire server per worker, started and stopped by the run; tests marked replica_set
# are reported as not run there (they need a real replica set: TEST_MONGO_URI=... make test-sqlite).
# The browser tests are left to the SQLite tier: their servers run on SQLite in either tier.
test-mongo: install-dev
	$(BIN)/python -m tests.mongo_wire --workers $(MONGO_WORKERS) --pytest -p no:cacheprovider -m "not browser" $(PYTEST_ARGS)

# A wire-compatible MongoDB server on MONGO_PORT, for trying the MongoDB path by hand:
#   make mongo-server & MONGO_URI=mongodb://127.0.0.1:27017/directorate make run
MONGO_PORT ?= 27017
mongo-server: install-dev
	$(BIN)/python -m tests.mongo_wire --port $(MONGO_PORT)

# Static checks: ruff (lint and format), the import contracts (.importlinter), migrations that match the models
# (on SQLite and in MongoDB mode, without a server), and mypy over the services and selectors ([tool.mypy]).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	MONGO_URI= SQLITE_PATH=$$(mktemp -d)/lint.sqlite3 $(BIN)/python manage.py makemigrations --check --dry-run --no-input
	MONGO_URI= DJANGO_SETTINGS_MODULE=directorate.mongo.migration_settings \
		$(BIN)/python manage.py makemigrations --check --dry-run --no-input
	$(BIN)/mypy

# Latency and throughput at scale (benchmarks/README.md); e.g. make bench BENCH_ARGS="--scale 10k,100k,1m"
bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

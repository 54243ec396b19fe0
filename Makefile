# Directorate of Order. `make run` serves the app; `make test` runs every test.
SHELL := /bin/sh
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run serve setup install install-dev test test-main test-mongo-smoke migrations-check bench clean

run: install setup serve

setup:
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py seed_demo --if-empty

serve:
	@echo "Serving on http://$(HOST):$(PORT)/ with the worker beside it (Nyx, payroll; Ctrl-C stops both)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py worker & \
	$(BIN)/daphne -b $(HOST) -p $(PORT) directorate.asgi:application

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

# The whole suite: on SQLite (or on a real MongoDB when TEST_MONGO_URI is set), then the
# MongoDB smoke suite over mongomock, which proves our queries compile for MongoDB.
test: install-dev
	$(if $(TEST_MONGO_URI),MONGO_URI='$(TEST_MONGO_URI)') $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest -p no:cacheprovider tests_mongo_smoke $(PYTEST_ARGS)

# Latency and throughput at scale (benchmarks/README.md); e.g. make bench BENCH_ARGS="--scale 10k,100k,1m"
bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

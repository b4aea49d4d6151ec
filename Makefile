# etfsync — the plain entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SIM_PORT ?= 8765
DEMO_PORT ?= 8000
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: install timescaledb demo test test-sqlite lint bench bench-install bench-quick clean

install: $(VENV)/.installed timescaledb

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## The native TimescaleDB of the test tier and benchmarks (tools/timescaledb/README.md): system-wide
## as root, else a private PostgreSQL tree in var/. Idempotent; skipped without PostgreSQL 15.
timescaledb:
	@if [ ! -x $(PG_BIN)/postgres ]; then \
		echo "PostgreSQL 15 is not installed ($(PG_BIN)): skipping TimescaleDB (the database test tiers need both)"; \
	elif [ "$$(id -u)" = 0 ]; then bash tools/timescaledb/install.sh >/dev/null; \
	else bash tools/timescaledb/install.sh var/pg15-timescaledb >/dev/null; fi

## The main job, offline: simulator + sync_etfs into the demo's own SQLite file (demo.sqlite3), then serve.
demo: install
	$(PY) tools/demo.py --sim-port $(SIM_PORT) --port $(DEMO_PORT)

## Lint, migration check, then the whole suite on SQLite, PostgreSQL 15 and TimescaleDB.
test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) tools/run_tests.py

test-sqlite: install
	$(PY) tools/run_tests.py --tiers sqlite

lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy

bench-install: install
	$(PY) -m pip install -q -r requirements-bench.txt
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)

## Benchmarks (bench/README.md): ~20 minutes + over an hour for TimescaleDB vs PostgreSQL at 50 M bars; bench-quick takes a few.
bench: bench-install
	$(PY) bench/run.py

bench-quick: bench-install
	$(PY) bench/run.py --quick

clean:
	rm -rf $(VENV) var/pg15-timescaledb demo.sqlite3 demo.sqlite3-* demo.sqlite3.*.lock staticfiles

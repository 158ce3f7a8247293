# Nano Banana Studio: `make run` to start, `make test` to test. Both work on a fresh clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 8
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

# Django 6 needs Python 3.12+: take the first suitable interpreter on PATH or in pyenv.
find_python = $(firstword $(foreach p,$(PYTHON) python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) python3,\
	$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null && echo $(p))))

.PHONY: run test install install-dev migrate lint pytest pytest-postgres browser-deps worker web clean

$(PY):
	@py="$(find_python)"; \
	if [ -z "$$py" ]; then echo "Error: Python 3.12 or newer is needed (Django 6). Install it, or pass PYTHON=/path/to/python3.12." >&2; exit 1; fi; \
	echo "Using $$py ($$($$py --version))"; \
	$$py -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_defaults
	$(PY) manage.py ensure_admin --url http://$(HOST):$(PORT)/

run: migrate
	@echo "Web on http://$(HOST):$(PORT)/ and a worker with $(WORKERS) threads. Ctrl-C stops both."
	@# Stop both halves on Ctrl-C or TERM, and the other half when one exits (a busy
	@# port, a crash). ('kill 0' in a TERM trap would signal this shell again: endless.)
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; trap 'exit 130' INT TERM; \
	$(PY) manage.py run_huey --workers $(WORKERS) --worker-type thread & \
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload & \
	wait -n

web: migrate
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

worker: migrate
	$(PY) manage.py run_huey --workers $(WORKERS) --worker-type thread

# Debian's Chromium for the browser tests (Playwright's own download cannot run here).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		echo "Installing Debian chromium and chromium-driver for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

lint: install-dev
	$(VENV)/bin/ruff check .

pytest: install-dev browser-deps
	$(PY) -m pytest -q

pytest-postgres: install-dev
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "PostgreSQL reachable: running the database-sensitive tests on it"; \
		DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -m postgres; \
	else \
		echo "SKIPPED: PostgreSQL not reachable at $(PG_TEST_URL); database-sensitive tests ran on SQLite only"; \
	fi

test: lint pytest pytest-postgres

clean:
	rm -rf $(VENV) var

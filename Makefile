# Relocate: `make run` sets everything up and starts the app; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-dev migrate seed lint clean distclean bench bench-data

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --no-input

seed: migrate
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py seed_demo

## Set up (venv, install, migrate, demo data) and run the web server, a Celery worker and beat.
run: seed
	@echo ""
	@echo "Relocate is starting. Recruiters: http://$(HOST):$(PORT)/  Admins: http://$(HOST):$(PORT)/admin/"
	@echo "Demo logins (password relocate-demo): ava (recruiter), nina (employer admin), admin (superuser)"
	@echo "Stop with Ctrl-C."
	@echo ""
	# Links in emails (unsubscribe, my data) point at this server unless SITE_URL says otherwise.
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} RELOCATE_HOST=$(HOST) RELOCATE_PORT=$(PORT) \
		$(VENV)/bin/honcho start -f Procfile

## Run the whole test suite (PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set).
test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## Benchmarks (print figures, assert nothing). They need PostgreSQL: DATABASE_URL=postgres://...
## `make bench-data` builds the large data set once (BENCH_LEADS, 1,000,000 by default).
BENCH_LEADS ?= 1000000
bench-data: $(VENV)/.installed-dev
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "Set DATABASE_URL to a PostgreSQL database"; exit 2;; esac
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py seed_demo --leads $(BENCH_LEADS) --jobs 2

bench: bench-data
	$(PY) bench/ui.py --runs 5
	$(PY) bench/api.py --runs 9
	$(PY) bench/reports.py --runs 5
	$(PY) bench/audit.py --runs 7
	$(PY) bench/dispatch.py
	$(PY) bench/webhooks.py
	$(PY) bench/intake_load.py --clients 200 --surge-seconds 60

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

## Remove build and test leftovers; var/ (the development database, uploaded CVs, the spool) stays.
clean:
	rm -rf staticfiles .pytest_cache .ruff_cache

## Also remove var/: the development database, uploaded CVs and any spooled submissions.
distclean: clean
	@echo "Removing var/: the development database, uploaded files and the intake spool."
	rm -rf var

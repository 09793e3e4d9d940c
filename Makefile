# VMA Portal. `make run` for the demo clinic, `make test` for the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vma
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt bench worker beat migrations-check install install-dev

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## create the virtualenv with the runtime packages

install-dev: $(VENV)/.installed-dev ## add what tests, lint and benchmarks need

run: install ## the demo clinic on the embedded default (SQLite, file broker) at http://127.0.0.1:8000
	@mkdir -p var
	DEBUG=true $(PY) manage.py migrate --noinput -v0
	DEBUG=true $(PY) manage.py seed_demo
	@echo "Starting web, worker and beat (Ctrl-C stops all)…"
	@DEBUG=true bash -c 'trap "kill 0" EXIT; \
		$(VENV)/bin/celery -A vma worker -B --pool=solo --loglevel=WARNING & \
		$(PY) manage.py runserver 127.0.0.1:$(PORT)'

test: install-dev lint ## lint, then the whole suite on PostgreSQL + Redis (DATABASE_URL, REDIS_URL)
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) VMA_TESTING=true $(VENV)/bin/pytest --create-db $(PYTEST_ARGS)

lint: install-dev ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	VMA_TESTING=true $(VENV)/bin/mypy .

fmt: install-dev ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install-dev ## benchmarks on a scaled dataset in its own PostgreSQL database; writes bench-results.json
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) VMA_TESTING=true $(PY) -m bench $(BENCH_ARGS)

worker: install ## a Celery worker on the configured broker
	$(VENV)/bin/celery -A vma worker --loglevel=INFO

beat: install ## Celery beat with the database scheduler
	$(VENV)/bin/celery -A vma beat --loglevel=INFO

migrations-check: install-dev ## fail if models changed without a migration
	VMA_TESTING=true $(PY) manage.py makemigrations --check --dry-run

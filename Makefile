# streamjobs developer entry points. `make` alone lists the targets.
#
# Everything runs from the virtualenv in .venv; the local services (Kafka,
# PostgreSQL) come from dev/services.sh and need no Docker.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
BIN := $(VENV)/bin
# pip runs only when pyproject.toml is newer than this stamp.
INSTALLED := $(VENV)/.installed
# The same for the bench extra (Celery, redis-py), which only `make bench` needs.
BENCH_INSTALLED := $(VENV)/.installed-bench
# Any Python 3.11+; python3.11 first because that is what CI and the Dockerfile use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)

PYTEST_ARGS ?=

# The long-running processes of `make run`, one quoted command per line; all of
# them run in the foreground until Ctrl-C. Another process joins with one line.
RUN_PROCESSES := 'streamjobs consume all'
RUN_PROCESSES += 'streamjobs scheduler'
RUN_PROCESSES += 'streamjobs web'

.PHONY: help install services services-down services-status topics migrate run \
	test lint bench soak clean

help: ## list the targets
	@echo "usage: make TARGET"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) \
		| awk -F':.*## ' '{ printf "  %-16s %s\n", $$1, $$2 }'
	@echo "variables: PYTEST_ARGS (extra pytest arguments), PYTHON (interpreter for .venv)"

install: $(INSTALLED) ## create .venv and install streamjobs with its dev tools

$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 found; set PYTHON=" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: $(PYTHON) is older than Python 3.11; set PYTHON=" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

services: ## start Kafka and PostgreSQL (a no-op when they run)
	dev/services.sh up

services-down: ## stop them
	dev/services.sh down

services-status: ## one line per service
	dev/services.sh status

topics: install services ## create every topic of the registry (idempotent)
	$(BIN)/streamjobs topics create

migrate: install services ## migrate the database to the newest revision
	$(BIN)/streamjobs db upgrade

# dev/supervise.sh starts every process and, on Ctrl-C or SIGTERM, stops them
# all and waits while they drain. make itself still reports "Interrupt" for
# Ctrl-C: that is make's own message, not a failed shutdown.
run: install services topics migrate ## run the consumers, the scheduler and the job view (:8288) until Ctrl-C
	PATH="$(CURDIR)/$(BIN):$$PATH" dev/supervise.sh $(RUN_PROCESSES)

# Tests create their own topics (unique prefix) and migrate the database.
test: install services ## run the test suite (PYTEST_ARGS=... to select)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff check, ruff format --check, mypy, import-linter, shellcheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@command -v shellcheck >/dev/null || { echo "error: shellcheck not found (apt-get install shellcheck)" >&2; exit 1; }
	shellcheck --external-sources dev/*.sh .ci/run

# The side-by-side benchmark (bench/compare.py): streamjobs with 1 and 2
# processes, the obvious consumer, Celery on a private redis-server and a bare
# aiohttp loop, a few minutes in all, against the running Kafka and PostgreSQL.
# Results: bench/results/compare.{md,json}. The other bench/bench_*.py scripts
# run one by one (README, Benchmarks).
bench: $(BENCH_INSTALLED) services ## side-by-side benchmark; writes bench/results/compare.{md,json}
	@command -v redis-server >/dev/null || { echo "error: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONPATH=. $(BIN)/python bench/compare.py

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

soak: install ## 10,000 webhooks through kills and restarts, on a private Kafka and PostgreSQL
	PYTHONPATH=. $(BIN)/python bench/soak.py

clean: ## stop the services and delete their data, logs and jars (.dev)
	dev/services.sh clean

# asgi-wsgi-lab: `make bench` runs the main job, `make test` runs the tests.
# Both install what they need first (scripts/setup.sh is quick when already done).

PROFILE ?= quick
OUT ?= results
PYTHON := .venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: help setup db bench test lint

help:
	@echo "make bench [PROFILE=smoke|quick|standard|full] [OUT=results]  set up, measure every stack, write the report"
	@echo "make test                                      the whole test suite (real MariaDB, Granian, wrk, ab)"
	@echo "make db                                        private MariaDB started, migrated and seeded"

setup:
	@scripts/setup.sh

db: setup
	@scripts/db.sh start
	@cd project && ../$(PYTHON) manage.py migrate --noinput -v 0 && ../$(PYTHON) manage.py seed_users

bench: setup
	@$(PYTHON) -m bench run --tool wrk --tool ab --profile $(PROFILE) --out $(OUT) --report

test: setup
	@$(PYTHON) -m pytest

lint: setup
	@$(PYTHON) -m ruff check .

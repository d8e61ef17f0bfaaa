# asgi-wsgi-lab: `make bench` runs the main job, `make test` runs the tests.
# Both install what they need first (scripts/setup.sh is quick when already done).

PROFILE ?= quick
OUT ?= results
PYTHON := .venv/bin/python
export PYTHONPATH := $(CURDIR)

RUN ?= $(OUT)/latest
# An interrupted run to finish (its folder): make bench RESUME=results/<run id>
RESUME ?=

.PHONY: help setup db bench test lint report compare

help:
	@echo "make bench [PROFILE=smoke|quick|standard|full|servers|latency|openloop|pool|databases] [OUT=results]  set up, measure every stack, write the report"
	@echo "make bench RESUME=results/<run id>             finish an interrupted run (Ctrl-C or SIGTERM keep every finished level)"
	@echo "make test                                      the whole test suite (real MariaDB, PostgreSQL, Granian, wrk, ab)"
	@echo "make db                                        the private database (DB_ENGINE) started, migrated and seeded"
	@echo "make report [RUN=results/latest] [SLO_MS=250]  rebuild a run's charts and report from its files"
	@echo "make compare RUNS=\"results/A results/B\"        compare runs (ratios with 95 % intervals)"

setup:
	@scripts/setup.sh

db: setup
	@scripts/db.sh start
	@cd project && ../$(PYTHON) manage.py migrate --noinput -v 0 && ../$(PYTHON) manage.py seed_users

# The openloop profile measures with wrk and the lab's open-loop generator; every other with wrk and ab.
BENCH_TOOLS = $(if $(filter openloop,$(PROFILE)),--tool openloop,--tool wrk --tool ab)

bench: setup
	@$(PYTHON) -m bench run $(BENCH_TOOLS) $(if $(RESUME),--resume $(RESUME),--profile $(PROFILE) --out $(OUT)) --report

test: setup
	@$(PYTHON) -m pytest

report: setup
	@$(PYTHON) -m bench report $(RUN) $(if $(SLO_MS),--slo-ms $(SLO_MS))

compare: setup
	@test -n "$(RUNS)" || { echo 'make compare: RUNS is empty: give two or more run folders, e.g. RUNS="results/A results/B"' >&2; exit 2; }
	@$(PYTHON) -m bench compare $(RUNS)

lint: setup
	@$(PYTHON) -m ruff check .

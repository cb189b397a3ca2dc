# The README's commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster
PYTEST_WORKERS ?= 2

.PHONY: install run test dev serve workers bench check-defs clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# (Re)writes $(DAGSTER_HOME)/dagster.yaml from deploy/ on every call: JACKPOT_INSTANCE may have changed.
install: $(VENV)/.installed
	@$(BIN)/python -m jackpot_pipeline.publish.instance >/dev/null

run: install
	$(BIN)/jackpot-pipeline run

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

# `dagster instance migrate` first: webserver, daemon and workers starting together race to create the storage.
dev: install
	eval "$$($(BIN)/python -m jackpot_pipeline.publish.instance)" && $(BIN)/dagster instance migrate >/dev/null && \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The REST API (/api/v1, OpenAPI at /docs) and the dashboard page (/) on 127.0.0.1:8000. Without a Dagster daemon
# (make dev) it runs the pipeline for a submitted card itself.
serve: install
	$(BIN)/jackpot-pipeline serve --host 127.0.0.1 --port 8000

# One Celery worker process for the scale-out profile (JACKPOT_INSTANCE=celery): it runs one Dagster run at a time,
# spreading that run's partitions over this machine's cores. Start one per process or machine wanted.
WORKER_NAME ?= worker
workers: install
	eval "$$($(BIN)/python -m jackpot_pipeline.publish.instance)" && $(BIN)/dagster instance migrate >/dev/null && \
	$(BIN)/celery -A jackpot_pipeline.defs.celery worker -P threads -c 1 -Q dagster -n $(WORKER_NAME)@%h --loglevel INFO

check-defs: install
	$(BIN)/dg check defs

bench: install
	@$(BIN)/python -m jackpot_pipeline_tests.benchmarks

clean:
	rm -rf $(VENV) .dagster/*.db .dagster/storage .dagster/history .dagster/schedules data/warehouse data/warehouse.duckdb

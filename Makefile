# The README's commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster
PYTEST_WORKERS ?= 2

.PHONY: install run test dev serve workers bench experiments check-defs clean

# The install steps keep what they print in $(VENV)/install.log and show it only when a step fails.
QUIETLY = > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip $(QUIETLY)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing the project and its pinned dependencies into $(VENV) (a few minutes, once)"
	@$(BIN)/python -m pip install --quiet -e ".[dev]" $(QUIETLY)
	@touch $@

# (Re)writes $(DAGSTER_HOME)/dagster.yaml from deploy/ on every call: JACKPOT_INSTANCE may have changed.
install: $(VENV)/.installed
	@$(BIN)/python -m jackpot_pipeline.publish.instance >/dev/null 2>$(VENV)/install.log || { cat $(VENV)/install.log; exit 1; }

run: install
	@$(BIN)/jackpot-pipeline run

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q --durations=25

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

# A grid of walk-forward configurations on the warehouse's matches, each an MLflow run; prints the comparison.
experiments: install
	$(BIN)/python -m jackpot_pipeline.experiments

check-defs: install
	$(BIN)/dg check defs

bench: install
	@$(BIN)/python -m jackpot_pipeline_tests.benchmarks

clean:
	rm -rf $(VENV) .dagster/*.db .dagster/storage .dagster/history .dagster/schedules data/warehouse data/warehouse.duckdb

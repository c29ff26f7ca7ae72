# seqpipe: `make run` sets up .venv and runs pipeline_config.yaml on data/; `make test` runs the test suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint ui clean

setup: $(INSTALLED)

# Reinstalls whenever requirements.txt (the one place dependencies are pinned) changes.
$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

run: setup
	$(PY) -m pipeline run --jobs 2

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

ui: setup
	$(PY) -m pipeline ui

clean:
	rm -rf runs mlruns mlflow.db

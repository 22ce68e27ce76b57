# meterr — every target installs what it needs into .venv first (a fresh clone needs only python3).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
METERR_HOME ?= $(CURDIR)/data
export METERR_HOME

.PHONY: demo test dev lint bench install manifest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# dagster-dbt loads dbt's manifest when the definitions are imported; parse it up front.
manifest: install
	$(BIN)/python -m dagster_project.dbt_project

demo: manifest
	$(BIN)/meterr demo

test: manifest
	$(BIN)/python -m pytest

dev: manifest
	mkdir -p $(METERR_HOME)/dagster
	cp dagster.yaml $(METERR_HOME)/dagster/dagster.yaml
	DAGSTER_HOME=$(METERR_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check .

bench: manifest
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs

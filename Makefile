# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use and reuse it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint sample clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/sentiment demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

sample: setup
	$(BIN)/python -m sentiment.sandbox.simulate --out data/sample --seed 7 --weeks 52 --effect 0.5

clean:
	rm -rf data/lake reports/*-* .pytest_cache

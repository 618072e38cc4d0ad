# The two commands of the README: `make reproduce` (set up, then run the main job) and
# `make test` (set up, then run the test suite). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

.PHONY: setup reproduce test lint bench
setup: $(BIN)/.installed

reproduce: $(BIN)/.installed
	$(BIN)/allockit reproduce

lint: $(BIN)/.installed
	$(BIN)/ruff check allockit tests benchmarks

test: lint
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/allockit bench

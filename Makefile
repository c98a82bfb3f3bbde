# Two commands do all set-up: `make serve` and `make test`.
# Both create .venv on first use; torch comes first, as a CPU build, so that
# sentence-transformers does not pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test check lint install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/herein serve

lint: $(STAMP)
	$(BIN)/ruff check service tests scripts
	$(BIN)/ruff format --check service tests scripts
	$(BIN)/mypy --strict service

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache

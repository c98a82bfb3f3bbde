# Two commands do all set-up: `make serve` and `make test`.
# Both create .venv on first use. torch==2.13.0 is installed first, pinned, so that
# sentence-transformers does not pull the newest multi-GB CUDA build; where pip is set up
# with a local CPU wheel of it (as on our machines), that is the one taken.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: serve test check lint install clean chromium

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

# The widget's browser tests drive Debian's Chromium (Playwright's own download cannot
# be used here); they fail, never skip, without it.
chromium:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "Chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; \
		fi; }

test: lint chromium
	HF_HUB_OFFLINE=1 $(BIN)/pytest

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache

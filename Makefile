# Domino's two everyday commands: `make incident` (the main job: the KB Pay 2023
# incident reproduced end to end under both profiles, with reports) and `make test`.
# Both set up everything they need first: a virtualenv with the project and
# its tools, and Domino's toxiproxy-server (built with `go build` from harness/toxiproxy/server).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORT_DIR ?= reports/kbpay
# The suite runs on two workers: most of its time is faults held and journeys
# waited on, so two isolated stacks side by side halve it on two cores. Each worker
# takes the next unit of work from one queue, longest first (a unit is a
# module, or one long test; tests/conftest.py), so a module's fixtures are built once
# and the workers end together on short units.
TEST_WORKERS ?= 2

.PHONY: setup incident demo test lint clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Domino needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[bank,dev]'
	@touch $@

# Domino's own modules compiled to bytecode once: every `domino` process, every
# service and every test's child imports them, and with PYTHONDONTWRITEBYTECODE
# set (as in many CI images) each would compile them from source again (about
# 0.1 s a process). Stale files are ignored: Python checks each source's mtime.
setup: $(BIN)/.installed
	$(BIN)/python -m compileall -q harness services
	$(BIN)/domino toxiproxy install

incident: setup
	$(BIN)/domino run kbpay-2023-01-25 --report $(REPORT_DIR)

demo: setup
	$(BIN)/domino demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

clean:
	rm -rf $(VENV) .domino reports .mypy_cache .ruff_cache .pytest_cache

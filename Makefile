# Two commands set everything up on a fresh machine (Python 3.11+ and make):
#   make demo   builds the sample campaigns into build/
#   make test   runs ruff, mypy and the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test golden docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsletter build

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Refresh tests/golden/ after an intended change to the templates or the renderer; review the diff.
golden: $(STAMP)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest tests/test_render.py -k golden

# The documentation site (docs/, mkdocs.yml) into build/_docs/; the command reference and the check-rule
# table are generated from the code as it builds (tests/test_docs.py builds it too).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_preview.py
	$(BIN)/python bench/bench_send.py
	$(BIN)/python bench/bench_unsubscribe.py

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache

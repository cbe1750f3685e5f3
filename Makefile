# Two entry points do all set-up on a fresh CPU-only machine:
#   make demo   install, then run the main job on the sample scene
#   make test   install if needed, then lint (ruff), type-check (mypy) and run the test suite
# Every pip call goes through ci/constraints.txt (torch==2.13.0+cpu), so a miss fails
# loudly instead of pulling gigabytes of CUDA packages.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.geocrobim-installed
export PIP_CONSTRAINT := $(CURDIR)/ci/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo lint test test-all clean

$(STAMP): pyproject.toml ci/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c ci/constraints.txt -e '.[test]'
	$(BIN)/python -c "import torch, sys; sys.exit('CUDA torch installed: ' + torch.__version__ if torch.version.cuda else 0)"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/geocrobim segment sample_data/scene.tif "the red-roofed warehouse north of the river" -o out/demo --overwrite

# ruff and mypy read their settings from pyproject.toml ([tool.ruff], [tool.mypy]).
lint: install
	$(BIN)/ruff check geocrobim tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

test-all: lint
	$(BIN)/python -m pytest -q -m ""

clean:
	rm -rf $(VENV) out .pytest_cache

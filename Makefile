# The two commands of the README quick start. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
# CPU build of PyTorch; override (e.g. TORCH_SPEC='torch==2.5.1') for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# Extra arguments of `imusynth demo`, e.g. a short run: make demo DEMO_ARGS="--set train.steps=20"
DEMO_ARGS ?=

.PHONY: demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Torch first, so that installing imusynth (torch>=2.4) does not pull a CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test extras (pytest, ruff, pydicom, dask) on top, for the suite and the linters only.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/imusynth demo --out runs/demo $(DEMO_ARGS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check imusynth tests benchmarks examples
	$(BIN)/ruff format --check imusynth tests benchmarks examples
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check imusynth tests benchmarks examples
	$(BIN)/ruff format --check imusynth tests benchmarks examples

format: $(VENV)/.installed-test
	$(BIN)/ruff format imusynth tests benchmarks examples
	$(BIN)/ruff check --fix imusynth tests benchmarks examples

clean:
	rm -rf $(VENV) runs .pytest_cache

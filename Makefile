# Two commands set everything up: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
# An extra package index for torch. Empty: pip's own configuration (a machine with the CPU wheel cached).
# On a Linux machine without it, TORCH_INDEX=https://download.pytorch.org/whl/cpu fetches the CPU build
# (192 MB wheel) instead of PyPI's default CUDA build (several GB with its nvidia-* libraries).
TORCH_INDEX ?=

.PHONY: demo test bench conformance mutation install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -c constraints.txt -e ".[notebooks,plot,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/convcheck demo

test: $(STAMP)
	CONVCHECK_PROFILE=$${CONVCHECK_PROFILE:-ci} $(BIN)/python -m pytest -n $(JOBS) -q tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# the conformance suite on torch's own ops, as a third party would run it on theirs
conformance: $(STAMP)
	$(BIN)/python -m pytest --convcheck-impl=convcheck.checks.adapters.torch --convcheck-only -n $(JOBS) -q

# mutation score of reference/ against the tests (long; not part of `make test`): see README
PER_FILE ?= 60
SEED ?= 0
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py --per-file $(PER_FILE) --seed $(SEED) --jobs $(JOBS) $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info

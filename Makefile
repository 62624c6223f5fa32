# clinval: the two README commands (`make demo`, `make test`) do all their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-clinval
PYTEST_ARGS ?=

export MLFLOW_DISABLE_TELEMETRY := true
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test bench dashboard examples clean help

help:
	@echo "make demo       set up (.venv) and run the whole pipeline on the embedded default"
	@echo "make test       set up (.venv) and run the full test suite"
	@echo "make bench      run every benchmark in benchmarks/ (ratios against an anchor in the same run)"
	@echo "make dashboard  start the Streamlit dashboards on the demo home"
	@echo "make examples   build the example vendor models (competent and flawed) from a seeded DEV corpus"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Modules with a .pxd beside them are compiled by setup.py (see datasets/deid/_accel.py); when one of their
# sources changes, the install rebuilds them (an import would otherwise fall back to pure Python with a warning).
COMPILED_SOURCES := setup.py $(wildcard datasets/deid/*.pxd) $(patsubst %.pxd,%.py,$(wildcard datasets/deid/*.pxd))
EXT_STAMP := $(VENV)/.stamp-clinval-compiled

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $(STAMP) $(EXT_STAMP)

$(EXT_STAMP): $(STAMP) $(COMPILED_SOURCES)
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $(EXT_STAMP)

setup: $(STAMP) $(EXT_STAMP)

demo: setup
	$(BIN)/clinval demo

test: setup
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

bench: setup
	$(BIN)/python -m pip install --quiet --editable '.[test,bench]'
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

dashboard: setup
	$(BIN)/clinval dashboard

examples: setup
	$(BIN)/python examples/vendors/vendor_kit.py --build-corpus examples/build

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build datasets/deid/*.so datasets/deid/_compiled.json

# Everything a new user needs, from a fresh clone with only Python 3.11 and pip:
#   make test          installs into .venv and runs ruff, mypy and pytest on the newest Airflow
#   make demo          installs into .venv and runs the example genomics pipeline against the local emulator
#   make test-matrix   the whole suite on every supported Airflow (2.11, 3.0, newest), one virtualenv each
#   make package       builds the sdist and wheel, installs the wheel in a clean virtualenv and checks it
#   make docs          builds the documentation site (docs/_build/html) with warnings as errors, and checks it
#                      in headless Chromium (installed from Debian's packages where missing): screenshots, search
#   make system-test   the system test DAG on your AWS account (settings from the environment: docs/concepts/evidence.md)
#   make tools         aws-healthomics-tools (AWS's own client) in .venv-tools: the tests and benchmarks run it
#   make bench         the benchmarks (about 90 minutes; BENCH_ARGS=--quick for a few): figures, no asserts
#   make constraints   re-resolves the pinned constraint files in constraints/ from PyPI
PYTHON ?= python3
# Airflow 3.0 is tested on Python 3.12 where the machine has one that runs (as Amazon MWAA runs it),
# else on $(PYTHON). A pyenv shim can exist and still refuse to run, so each candidate is tried.
PYTHON_3_12 := $(or $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	"$$p" -c "" >/dev/null 2>&1 && echo "$$p" && break; done),$(PYTHON))
NEWEST := 3.3
VERSIONS := 2.11 3.0 $(NEWEST)
python_for = $(if $(filter 3.0,$(1)),$(PYTHON_3_12),$(PYTHON))
# What each version resolves from (make constraints). Airflow 3.0.6 breaks with what was released after
# it: every task-API call answers 422 with the newer FastAPI stack, and ObjectStoragePath refuses every
# protocol with universal-pathlib 0.3. Pin what it was released with.
spec_2.11 := "apache-airflow==2.11.*"
spec_3.0 := "apache-airflow==3.0.6" "fastapi==0.117.1" "starlette==0.48.0" "pydantic==2.11.9" "cadwyn==5.4.6" "universal-pathlib==0.2.6"
spec_$(NEWEST) := "apache-airflow==$(NEWEST).*"
# make demo AIRFLOW_VERSION=2.11 runs the example pipeline on that version's virtualenv.
AIRFLOW_VERSION ?= $(NEWEST)

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := pytest -q -p no:cacheprovider

.PHONY: test lint typecheck pytest demo test-matrix package bench constraints clean tools system-test docs browser

# The development environment: the newest Airflow, with the linters.
$(STAMP): pyproject.toml constraints/airflow-$(NEWEST).txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints/airflow-$(NEWEST).txt -e ".[dev]"
	touch $(STAMP)

# One test environment per supported Airflow, from its constraint file (kept: not an intermediate file).
.PRECIOUS: .venv-%/.installed
.venv-%/.installed: pyproject.toml constraints/airflow-%.txt
	$(call python_for,$*) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -c constraints/airflow-$*.txt -e ".[test]"
	touch $@

# AWS's own HealthOmics client, in a virtualenv of its own (its plotting stack is not Airflow's): the tests
# run its command line and TransferManager against the emulator, the transfer benchmark measures beside it.
TOOLS := .venv-tools/.installed
TOOLS_VERSION := 0.14.0
$(TOOLS): constraints/aws-healthomics-tools.txt
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet --upgrade pip
	.venv-tools/bin/pip install --quiet -r constraints/aws-healthomics-tools.txt
	touch $@

tools: $(TOOLS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(TOOLS)
	$(BIN)/$(PYTEST)

test: lint typecheck pytest

test-$(NEWEST): $(STAMP) $(TOOLS)
	@echo "=== Airflow $$($(BIN)/python -c 'import airflow; print(airflow.__version__)') on $$($(BIN)/python -V)"
	$(BIN)/$(PYTEST)

test-%: .venv-%/.installed $(TOOLS)
	@echo "=== Airflow $$(.venv-$*/bin/python -c 'import airflow; print(airflow.__version__)') on $$(.venv-$*/bin/python -V)"
	.venv-$*/bin/$(PYTEST)

test-matrix: $(addprefix test-,$(VERSIONS))

demo: $(if $(filter $(NEWEST),$(AIRFLOW_VERSION)),$(STAMP),.venv-$(AIRFLOW_VERSION)/.installed)
	$(if $(filter $(NEWEST),$(AIRFLOW_VERSION)),$(BIN),.venv-$(AIRFLOW_VERSION)/bin)/python scripts/demo.py

package: $(STAMP)
	$(BIN)/python scripts/check_package.py

# The site: Sphinx with warnings as errors (every reference between pages and into the code checked),
# then scripts/check_docs.py reads it in a browser. CI has no network: no external links are followed.
docs: $(STAMP) browser
	rm -rf docs/_build/html
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	$(BIN)/python scripts/check_docs.py docs/_build/html

# A headless browser for the docs check: Debian's Chromium where none is there (CHROMIUM=... names another).
browser:
	@[ -n "$$CHROMIUM" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  command -v google-chrome >/dev/null || \
	  { command -v apt-get >/dev/null && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || \
	  { echo "make docs needs Chromium: install it, or set CHROMIUM to a Chrome or Chromium binary"; exit 1; }

system-test: $(STAMP)
	$(BIN)/python scripts/system_test.py

BENCH_ARGS ?=
bench: $(STAMP) $(TOOLS)
	$(BIN)/python benchmarks/waiting_at_scale.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/transfers.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/analysis.py $(BENCH_ARGS)

constraints: $(addprefix constraints-,$(VERSIONS)) constraints-tools

constraints-%:
	rm -rf .venv-constraints && $(call python_for,$*) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet $(spec_$*) -e ".[$(if $(filter $(NEWEST),$*),dev,test)]"
	{ echo "# Airflow $* on $$(.venv-constraints/bin/python -V), resolved by make constraints on $$(date -u +%F)"; \
	  .venv-constraints/bin/pip freeze --exclude-editable; } > constraints/airflow-$*.txt
	rm -rf .venv-constraints

constraints-tools:
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet aws-healthomics-tools==$(TOOLS_VERSION)
	{ sed -n '1,2p' constraints/aws-healthomics-tools.txt; .venv-constraints/bin/pip freeze; } > constraints/tools.new
	mv constraints/tools.new constraints/aws-healthomics-tools.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) $(addprefix .venv-,$(VERSIONS) tools) .airflow-demo dist build docs/_build

# Everything a new user needs, from a fresh clone with only Python 3.11+ and pip:
#   make test           installs into .venv and runs ruff, mypy and pytest on the newest Airflow
#   make demo           installs into .venv and runs the example genomics pipeline against the local emulator
#   make test-matrix    the stacks users have: each Amazon MWAA image (Python 3.12, MWAA's own constraint file,
#                       the provider from its built wheel) and the newest Airflow, one virtualenv each
#   make test-mwaa-3.0.6  one of them (.venv-mwaa-3.0.6)
#   make release-check  sdist and wheel, twine check, the wheel installed into each MWAA stack and listed there
#   make docs           builds the documentation site (docs/_build/html) with warnings as errors, and checks it
#                       in headless Chromium (installed from Debian's packages where missing): screenshots, search
#   make system-test    the system test DAG on your AWS account (settings from the environment: docs/concepts/evidence.md)
#   make tools          aws-healthomics-tools (AWS's own client) in .venv-tools: the tests and benchmarks run it
#   make bench          the benchmarks (about 90 minutes; BENCH_ARGS=--quick for a few): figures, no asserts
#   make constraints    re-resolves constraints/airflow-3.3.txt (the newest stack) from PyPI
#   make mwaa-constraints  fetches MWAA's constraint files again (needs GitHub; MWAA_REF=<commit> for another)
#   make model          ships the omics service model of .venv's botocore in the package (shipped_model.py)
#   make stubs          writes the operators' and sensors' signatures (.pyi beside them) from the model
PYTHON ?= python3
# Amazon MWAA runs Python 3.12 on every image. A pyenv shim can exist and still refuse to run, so each
# candidate is tried.
PYTHON_3_12 := $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	"$$p" -c "" >/dev/null 2>&1 && echo "$$p" && break; done)
NEED_3_12 = @[ -n "$(PYTHON_3_12)" ] || { echo "Amazon MWAA runs Python 3.12: install it (pyenv install 3.12) first"; exit 1; }
# The newest Airflow with the newest libraries (.venv, constraints/airflow-$(NEWEST).txt), and the Airflow
# versions Amazon MWAA runs (constraints/mwaa/<version>.txt, MWAA's files as AWS ships them).
NEWEST := 3.3
MWAA := 2.11.2 3.0.6 3.2.1 3.3.1
MWAA_OLDEST := 2.11.2 3.0.6
# make demo AIRFLOW_VERSION=3.0.6 runs the example pipeline on that MWAA stack.
AIRFLOW_VERSION ?= $(NEWEST)
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' airflow_provider_omics/__init__.py)
WHEEL := dist/airflow_provider_omics-$(VERSION)-py3-none-any.whl
SOURCES := pyproject.toml $(shell find airflow_provider_omics -type f -not -path "*/__pycache__/*")

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Tests run in parallel, each worker with its own emulator and AIRFLOW_HOME; the 15 slowest are printed. Two
# workers, one a core: at four the quota tests' pacing meets CPU starvation and the emulator throttles it.
TEST_WORKERS ?= 2
PYTEST := pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --durations=15
# Where the whole suite runs: the newest stack and the oldest MWAA images (the oldest Airflow, the oldest
# libraries). On the others: what users run on them, the example DAGs, the DAG tests and the real scheduler.
STACK_TESTS := tests/test_stacks.py tests/test_example_dags.py tests/test_system.py tests/test_recipes.py tests/test_in_airflow.py

.PHONY: test lint typecheck pytest demo test-matrix test-newest release-check bench constraints mwaa-constraints \
	model stubs clean tools system-test docs browser

# The development environment: the newest Airflow with the newest libraries, and the linters.
$(STAMP): pyproject.toml constraints/airflow-$(NEWEST).txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints/airflow-$(NEWEST).txt -e ".[dev]"
	touch $(STAMP)

# The wheel users install; the MWAA stacks test it, not the source tree.
$(WHEEL): $(SOURCES)
	rm -f dist/*.whl
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

# One virtualenv per Amazon MWAA image, as AWS ships it: Python 3.12, MWAA's constraint file unchanged,
# Airflow at the image's version; the provider's requirements and the test tools resolve inside that file,
# so a pin the provider would move fails here. Kept (not an intermediate file); the wheel is put in afresh
# by each test run.
.PRECIOUS: .venv-mwaa-%/.installed
.venv-mwaa-%/.installed: constraints/mwaa/%.txt pyproject.toml | $(WHEEL)
	$(NEED_3_12)
	rm -rf .venv-mwaa-$* && $(PYTHON_3_12) -m venv .venv-mwaa-$*
	.venv-mwaa-$*/bin/pip install --quiet --upgrade pip
	.venv-mwaa-$*/bin/pip install --quiet -c constraints/mwaa/$*.txt "apache-airflow==$*" "$(WHEEL)[test]"
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

test-newest: $(STAMP) $(TOOLS)
	@echo "=== the newest: Airflow $$($(BIN)/python -c 'import airflow; print(airflow.__version__)') on $$($(BIN)/python -V)"
	$(BIN)/$(PYTEST)

test-mwaa-%: .venv-mwaa-%/.installed $(WHEEL) $(TOOLS)
	.venv-mwaa-$*/bin/pip install --quiet --no-deps --force-reinstall $(WHEEL)
	@echo "=== Amazon MWAA $*: Airflow $$(.venv-mwaa-$*/bin/python -c 'import airflow; print(airflow.__version__)')," \
	  "botocore $$(.venv-mwaa-$*/bin/python -c 'import botocore; print(botocore.__version__)') on $$(.venv-mwaa-$*/bin/python -V)"
	.venv-mwaa-$*/bin/$(PYTEST) $(if $(filter $*,$(MWAA_OLDEST)),,$(STACK_TESTS))

test-matrix: $(addprefix test-mwaa-,$(MWAA)) test-newest

# make demo AIRFLOW_VERSION=3.0.6: the example pipeline on that MWAA stack (the provider from its wheel).
demo: $(if $(filter $(NEWEST),$(AIRFLOW_VERSION)),$(STAMP),.venv-mwaa-$(AIRFLOW_VERSION)/.installed $(WHEEL))
	$(if $(filter $(NEWEST),$(AIRFLOW_VERSION)),,.venv-mwaa-$(AIRFLOW_VERSION)/bin/pip install --quiet --no-deps --force-reinstall $(WHEEL))
	$(if $(filter $(NEWEST),$(AIRFLOW_VERSION)),$(BIN),.venv-mwaa-$(AIRFLOW_VERSION)/bin)/python scripts/demo.py

release-check: $(STAMP)
	$(NEED_3_12)
	PYTHON_3_12=$(PYTHON_3_12) $(BIN)/python scripts/check_package.py $(MWAA)

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
	$(BIN)/python benchmarks/waiting_on_events.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/transfers.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/analysis.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/run_batch_at_scale.py $(BENCH_ARGS)

constraints: constraints-$(NEWEST) constraints-tools

constraints-$(NEWEST):
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet "apache-airflow==$(NEWEST).*" -e ".[dev]"
	{ echo "# Airflow $(NEWEST) on $$(.venv-constraints/bin/python -V), resolved by make constraints on $$(date -u +%F)"; \
	  .venv-constraints/bin/pip freeze --exclude-editable; } > constraints/airflow-$(NEWEST).txt
	rm -rf .venv-constraints

# MWAA's constraint files from aws/amazon-mwaa-docker-images at MWAA_REF (default: its main branch now),
# with the commit each was read at in constraints/mwaa/SOURCES.
MWAA_REF ?=
mwaa-constraints:
	$(PYTHON) scripts/mwaa_constraints.py $(if $(MWAA_REF),--ref $(MWAA_REF)) $(MWAA)

# The omics model of .venv's botocore (the one the package is developed against) into the package.
stubs: $(STAMP)
	$(BIN)/python scripts/generate_stubs.py

model: $(STAMP)
	$(BIN)/python scripts/ship_model.py

constraints-tools:
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet aws-healthomics-tools==$(TOOLS_VERSION)
	{ sed -n '1,2p' constraints/aws-healthomics-tools.txt; .venv-constraints/bin/pip freeze; } > constraints/tools.new
	mv constraints/tools.new constraints/aws-healthomics-tools.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) $(addprefix .venv-mwaa-,$(MWAA)) .venv-tools .airflow-demo dist build docs/_build

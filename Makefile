# Two commands on a fresh machine (each does its own set-up: virtualenv, install, dbt manifest):
#   make demo   -- the main job: the whole asset graph for sweeps local-demo (LLMs) and tabular-cpu
#                  (tree ensembles) on this machine's CPU
#   make test   -- the test suite
# State lives in $INFERENCE_ESTIMATION_HOME (default ~/.inference-estimation).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SWEEP ?= local-demo tabular-cpu
# Public datasets imported beside the sweep: a local folder of them when there is one (this
# workplace keeps them in ../shared/data/external), else each is downloaded at a pinned commit.
EXTERNAL_DIR ?= $(wildcard $(CURDIR)/../shared/data/external)
PYTEST_ARGS ?=
# Test workers (pytest-xdist): most tests wait on subprocesses, dbt or Dagster runs, so two workers use
# both cores of a 2-core machine. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

.PHONY: setup demo test ui clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned to the CPU build 2.13.0 by the `bench` extra (an unpinned torch pulls CUDA).
	$(BIN)/pip install --quiet -e '.[bench,dev,cloud-test]'
	touch $@

dbt_project/target/manifest.json: $(VENV)/.installed $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.py' | grep -v target)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --project-dir . --quiet
	touch $@

setup: $(VENV)/.installed dbt_project/target/manifest.json

demo: setup
	$(BIN)/inference-estimation sweep $(foreach s,$(SWEEP),--sweep $(s)) $(if $(EXTERNAL_DIR),--external-from $(EXTERNAL_DIR))

test: setup
	@# The UI test drives Debian's headless Chromium (never a downloaded browser): install it when
	@# running as root and it is missing; otherwise that test says why it skipped.
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt) for the UI test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "chromium could not be installed; the UI test will say why it skipped"; \
	fi
	@# Two phases: every test but the `serial` ones on $(TEST_WORKERS) workers, then the `serial` ones
	@# alone (their verdict rests on timings a busy neighbour would spoil). A phase the selection leaves
	@# empty exits 5 ("no tests collected"), which is not a failure.
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder -m "not serial" $(PYTEST_ARGS); \
		status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS); status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

ui: setup
	$(BIN)/inference-estimation ui

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs

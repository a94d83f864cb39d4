# open137: `make demo` and `make test` set up whatever is missing (see scripts/setup.sh).
SHELL := /bin/bash
PY := .venv/bin/python
ONLY ?=
PYTEST_ARGS ?=

.PHONY: setup demo test bench stress stop lint clean-db

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) manage.py demo_load --generate
	@$(PY) manage.py participation_demo_load
	@$(PY) manage.py demo_logins --base-url http://127.0.0.1:$${OPEN137_PORT:-8000}
	@bash scripts/serve.sh

test: setup
	@$(PY) -m pytest -p no:cacheprovider -n 2 $(PYTEST_ARGS)

# ARCHIVE=10000000 measures at ten million reports (ten years of a city like Tehran; the archive is made
# once, in about ten times the million's few minutes) instead of the default million, on a database
# and into results files of its own (bench/db.py run_suffix).
bench: setup
	@$(if $(ARCHIVE),OPEN137_BENCH_ARCHIVE=$(ARCHIVE) ,)$(PY) -m bench.run $(if $(ONLY),--only $(ONLY),)

# The heavier runs: the API fuzzed with 500 examples an operation and hypothesis's stress profile,
# then load without loss: 20,000 reports from 32 clients while workers are killed and PostgreSQL
# restarts (bench/stress.py; STRESS_N=2000 for a shorter run). Ends with one line: stress: N submitted, ...
stress: setup
	@OPEN137_FUZZ_EXAMPLES=500 HYPOTHESIS_PROFILE=stress $(PY) -m pytest -p no:cacheprovider -n 2 \
		tests/test_fuzz_schema.py tests/test_bad_input.py
	@$(PY) -m bench.stress

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .

stop:
	@bash scripts/stop.sh

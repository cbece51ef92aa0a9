# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test unit lint typecheck schemas bench faults clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The console (api/console/): npm ci from the committed lockfile, then one esbuild bundle into
# api/console/dist (git-ignored), rebuilt only when its sources or the lockfile change.
CONSOLE := api/console
CONSOLE_BUILD := $(CONSOLE)/dist/.built-stamp
$(CONSOLE_BUILD): $(CONSOLE)/package-lock.json $(CONSOLE)/index.html $(shell find $(CONSOLE)/src -type f 2>/dev/null)
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent
	touch $(CONSOLE_BUILD)

install: $(STAMP) $(CONSOLE_BUILD)

## Run Fluxo: local Kafka (KRaft) + embedded PostgreSQL + processors + API.
run: install
	$(VENV)/bin/fluxo up

## The whole suite against a real broker and database started by the tests.
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider

## The fault suite at full scale: per case accepted / completed / duplicated / lost (docs/faults.md).
faults: install
	FLUXO_FAULTS_EXECUTIONS=$${FLUXO_FAULTS_EXECUTIONS:-1000} FLUXO_FAULTS_OUTAGE_SECONDS=$${FLUXO_FAULTS_OUTAGE_SECONDS:-30} \
	FLUXO_FAULTS_SOAK_SECONDS=$${FLUXO_FAULTS_SOAK_SECONDS:-600} FLUXO_FAULTS_SOAK_RATE=$${FLUXO_FAULTS_SOAK_RATE:-150} \
	$(PY) -m pytest -q -p no:cacheprovider tests/faults

unit: install
	$(PY) -m pytest -q tests/unit

lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

schemas: install
	$(VENV)/bin/fluxo schemas export --out schemas/json --asyncapi docs/streams/asyncapi.json

## Throughput and latency figures (docs/benchmarks.md); BENCH_ARGS="--scenario e2e --events 20000".
bench: install
	$(VENV)/bin/fluxo bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

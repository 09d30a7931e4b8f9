# One entry point for humans and CI: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench bench-import schema clean redis

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/convos-gateway serve

# Redis is started by the machine; start it here when it is down so that no
# Redis test is skipped silently.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null

test: $(STAMP) redis
	$(BIN)/ruff check app resolvers storage tests bench
	$(BIN)/mypy
	$(BIN)/pytest

test-slow: $(STAMP) redis
	$(BIN)/pytest --run-slow -m slow

lint: $(STAMP)
	$(BIN)/ruff check app resolvers storage tests bench
	$(BIN)/ruff format --check app resolvers storage tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.requests

# Import speed against the insert_many floor, and memory growth (--big: 250 MB too).
bench-import: $(STAMP)
	$(BIN)/python -m bench.import

schema: $(STAMP)
	$(BIN)/convos-gateway export-schema > schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

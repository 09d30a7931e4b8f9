# One entry point for humans and CI: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: browser run test test-slow lint bench bench-import schema clean redis graphiql-assets screenshot

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

# The GraphiQL end-to-end test drives Debian's chromium. Install it when it is
# missing and we may (root, as on these machines and CI); otherwise the test
# is skipped and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the GraphiQL browser test will be skipped"; }

test: $(STAMP) redis browser
	$(BIN)/ruff check app resolvers storage tests bench
	$(BIN)/ruff format --check --quiet app resolvers storage tests bench
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

# GraphiQL's browser bundles come from npm at the versions pinned in
# tools/graphiql and are committed under app/static/graphiql, so `make run`
# needs neither npm nor a network. Run this only to change versions.
graphiql-assets:
	tools/graphiql/vendor.sh

# Re-take docs/graphiql.png with headless chromium (apt-get install -y chromium).
screenshot: $(STAMP)
	UPDATE_SCREENSHOT=1 $(BIN)/pytest -q tests/app/test_graphiql_browser.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

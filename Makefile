# One entry point for humans and CI: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock browser run test test-slow lint bench bench-import schema clean redis graphiql-assets screenshot

# Installs come from the lock files (exact versions, hashes checked), never
# from pyproject.toml's ranges: requirements-dev.txt here, requirements.txt in
# docker/Dockerfile. The project itself is installed without dependencies and
# without build isolation (setuptools is locked too); `pip check` then proves
# the lock satisfies pyproject.toml. `make lock` refreshes both files.
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check || { echo "the lock files miss what pyproject.toml asks for: run make lock"; exit 1; }
	touch $(STAMP)

install: $(STAMP)

PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
# Both files keep their pins where pyproject.toml still allows them (add
# --upgrade to move everything to the newest allowed versions);
# the dev lock is constrained by the runtime one so shared packages agree.
# Not through $(STAMP): after a new dependency the old lock cannot install.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet 'pip-tools>=7.4'
	$(PIP_COMPILE) --build-deps-for wheel -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --build-deps-for editable -c requirements.txt \
		-o requirements-dev.txt pyproject.toml

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

# dmshell — the entry points a newcomer needs:
#   make demo   set everything up and open the playground (dmshell playground)
#   make test   set everything up and run the whole test suite
#   make unit   only the tests that need no MariaDB (none is started)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test unit lint typecheck proto bench bench-full bench-sync clean mariadb test-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

mariadb:
	scripts/ensure-mariadb

# tools the tests run against the test servers (pt-online-schema-change)
test-tools:
	scripts/ensure-percona-toolkit

demo: $(STAMP) mariadb
	$(VENV)/bin/dmshell playground

test: $(STAMP) mariadb test-tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider -m "not mariadb"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

proto: $(STAMP)
	PYTHON=$(PY) scripts/gen-proto

bench: $(STAMP) mariadb
	$(PY) -m bench.budget

bench-full: $(STAMP) mariadb
	$(PY) -m bench.full

bench-sync: $(STAMP) mariadb
	$(PY) -m bench.sync

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache

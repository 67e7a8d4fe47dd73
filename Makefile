# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-unit lint format bench clean check-java check-postgres ui ui-assets check-chromium

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "solidflow needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[ray,web]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,ray,spark]"
	touch $@ $(VENV)/.demo-installed

# The web UI's assets (solidflow/web/static) are built from frontend/ with npm and esbuild;
# they ship inside the Python package, so nothing is fetched when the UI runs.
# Debian's nodejs and npm packages bring npm when it is missing (as root; else it says so).
UI_ASSETS := solidflow/web/static/index.html
UI_SOURCES := $(shell find frontend/src -type f) frontend/build.mjs

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else \
			echo "The web UI is built with npm (Node.js 18 or newer): sudo apt-get install nodejs npm" >&2; \
			exit 1; \
		fi; }
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_ASSETS): frontend/node_modules/.package-lock.json $(UI_SOURCES)
	cd frontend && npm run --silent build

ui-assets: $(UI_ASSETS)

# The browser tests drive Debian's Chromium; as root it is installed when missing.
CHROMIUM ?= /usr/bin/chromium
check-chromium:
	@[ -x $(CHROMIUM) ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium and chromium-driver for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium chromium-driver" >&2; \
			exit 1; \
		fi; }

# Spark (solidflow[spark], the Spark tests) runs on a JVM: Java 17 or newer.
JAVA := $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)
check-java:
	@version=$$($(JAVA) -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1); \
	if [ -z "$$version" ] || [ "$$version" -lt 17 ]; then \
		echo "solidflow's Spark support needs Java 17 or newer; found: $${version:-no java}." >&2; \
		echo "Install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless;" >&2; \
		echo "macOS: brew install openjdk@17) and put java on PATH or set JAVA_HOME." >&2; \
		exit 1; \
	fi

# The PostgreSQL tests start a server of their own: they need its programs (initdb, pg_ctl).
# As root with apt-get they are installed; otherwise say how.
check-postgres:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else \
		echo "The PostgreSQL tests need PostgreSQL's server programs (initdb, pg_ctl)." >&2; \
		echo "Install them (Debian/Ubuntu: sudo apt-get install postgresql;" >&2; \
		echo "macOS: brew install postgresql) and run make test again." >&2; \
		exit 1; \
	fi

demo: $(VENV)/.demo-installed $(UI_ASSETS)
	$(BIN)/solidflow run examples/orders.py:orders -c examples/orders.yaml --mode local --executor ray
	$(BIN)/solidflow logs latest
	@echo
	@echo "See this run, launch others and watch them in the web UI: make ui"
	@echo "(it serves http://127.0.0.1:3000/ until Ctrl-C)"

ui: $(VENV)/.demo-installed $(UI_ASSETS)
	$(BIN)/solidflow ui examples/orders.py:orders

test: check-java check-chromium check-postgres $(VENV)/.test-installed $(UI_ASSETS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/lint_imports.py
	$(BIN)/python .ci/typecheck.py
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The unit layer alone: no clusters, no subprocesses of the CLI; under a minute.
test-unit: $(VENV)/.test-installed
	$(BIN)/python -m pytest tests/unit -n auto

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/lint_imports.py
	$(BIN)/python .ci/typecheck.py

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: check-java check-chromium $(VENV)/.test-installed $(UI_ASSETS)
	$(BIN)/solidflow bench --scale medium --out benchmarks/results
	$(BIN)/python benchmarks/in_process_overhead.py
	$(BIN)/python benchmarks/event_log_ingest.py
	$(BIN)/python benchmarks/log_rendering.py
	$(BIN)/python benchmarks/runs_listing.py
	$(BIN)/python benchmarks/event_log_migration.py
	$(BIN)/python benchmarks/store_throughput.py
	$(BIN)/python benchmarks/store_verification.py
	$(BIN)/python benchmarks/store_memory.py
	$(BIN)/python benchmarks/s3_store.py
	$(BIN)/python benchmarks/memoization.py
	$(BIN)/python benchmarks/key_computation.py
	$(BIN)/python benchmarks/ray_overhead.py
	$(BIN)/python benchmarks/spark_overhead.py
	$(BIN)/python benchmarks/web_ui.py
	$(BIN)/python benchmarks/run_queue.py
	$(BIN)/python benchmarks/sweep.py --without-sharing

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache frontend/node_modules solidflow/web/static test-artifacts

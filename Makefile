# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-unit lint format bench clean check-java

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "solidflow needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[ray]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,ray,spark]"
	touch $@ $(VENV)/.demo-installed

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

demo: check-java $(VENV)/.demo-installed
	$(BIN)/solidflow run examples/orders.py:orders -c examples/orders.yaml --mode local --executor ray
	$(BIN)/solidflow logs latest

test: check-java $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/lint_imports.py
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The unit layer alone: no clusters, no subprocesses of the CLI; under a minute.
test-unit: $(VENV)/.test-installed
	$(BIN)/python -m pytest tests/unit -n auto

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/lint_imports.py

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: check-java $(VENV)/.test-installed
	$(BIN)/solidflow bench --scale medium --out benchmarks/results
	$(BIN)/python benchmarks/in_process_overhead.py
	$(BIN)/python benchmarks/event_log_ingest.py
	$(BIN)/python benchmarks/store_throughput.py
	$(BIN)/python benchmarks/store_verification.py
	$(BIN)/python benchmarks/store_memory.py
	$(BIN)/python benchmarks/memoization.py
	$(BIN)/python benchmarks/ray_overhead.py
	$(BIN)/python benchmarks/spark_overhead.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache

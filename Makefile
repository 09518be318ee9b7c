# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-seeds fuzz clean up

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ecomock run scenarios/demo.yaml

up: $(STAMP)
	$(BIN)/ecomock up

# At least three workers whatever the cores: an end-to-end run mostly waits on the wall clock
# (a quarter of a core), so three at once fit on two cores. By module (loadscope), so that the
# tests sharing a module-scoped run play it once (tests/conftest.py). Node.js for connectors/node-reference's test (Debian's nodejs; a no-op when
# node >= 18 is there).
TEST_WORKERS := $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 3 ] && echo $$n || echo 3)
test: $(STAMP)
	bash .ci/install-node
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy simulator fake_systems contract_tests connectors load
	$(BIN)/lint-imports

# Every benchmark of docs/PERFORMANCE.md (~90 min with the chaos scenarios); BENCH_ARGS="--quick" checks the bench in
# a few minutes, BENCH_ARGS="--only capacity" runs one part.
bench: $(STAMP)
	sh load/bench/tools.sh
	$(BIN)/python -m load.bench.all $(BENCH_ARGS)

# No false positives: every shipped scenario on 20 seeds (3 for the long ones), ~4 hours.
# BENCH_ARGS="--jobs 2 --shard 1/3": two short runs at once, the first third of the sweep.
bench-seeds: $(STAMP)
	$(BIN)/python -m load.bench.all --only seeds $(BENCH_ARGS)

fuzz: $(STAMP)
	ECOMOCK_FUZZ_EXAMPLES=50000 ECOMOCK_FUZZ_RANDOM=1 $(BIN)/python -m pytest -q -m fuzz

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache

# The README's two commands: `make demo` (main job: WFM-MPC on PushBlock) and `make test` (test suite).
# Both create .venv on first use through scripts/bootstrap.sh.

VENV_STAMP := .venv/.cosmos-sim-installed

.PHONY: demo test test-all lint

$(VENV_STAMP): pyproject.toml setup.py scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

# Main job: MPC in the shipped world model closing the loop on MuJoCo PushBlock (4 held-out seeds,
# with the oracle and random actions beside it); the report goes to outputs/plan/.
demo: $(VENV_STAMP)
	.venv/bin/cosmos-sim plan --with-oracle --with-random

# Fast suite (< 15 min on 2 cores). Tests marked slow or gpu run with `make test-all`.
test: $(VENV_STAMP)
	.venv/bin/pytest -m "not slow and not gpu" -n 2 --timeout 600

test-all: $(VENV_STAMP)
	.venv/bin/pytest -n 2

lint: $(VENV_STAMP)
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

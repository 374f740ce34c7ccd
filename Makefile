# Two entry points for a fresh machine: `make demo` and `make test`. Both set up .venv first.
#   TORCH      the torch requirement installed before the package (this machine: the CPU build on disk)
#   PYTHON     the interpreter that creates the virtual environment
#   PARALLEL   pytest-xdist options of the tests (default: one worker per core, one thread each, a
#              module's tests on one worker; `make test PARALLEL=` runs them in one process)
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARALLEL ?= -n auto --dist loadscope

.PHONY: setup demo test test-fast bench fidelity datasets clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ ! -d /usr/share/datasets/fashion-mnist ]; then \
		echo "installing dataset-fashion-mnist (Debian package)"; \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } || \
		echo "warning: could not install dataset-fashion-mnist; Fashion-MNIST will be downloaded when online"; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/condense distill

test: setup
	$(PY) -m pytest -q $(PARALLEL)

test-fast: setup
	$(PY) -m pytest -q $(PARALLEL) -m "not slow"

datasets: setup
	$(VENV)/bin/condense datasets

bench: setup
	$(PY) benchmarks/load_data.py
	$(PY) benchmarks/iteration_speed.py

fidelity: setup
	$(PY) benchmarks/fidelity.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# The two commands of the README: `make demo` and `make test`. Both create .venv when needed.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DATA   ?= data
CHICAGO ?= ../shared/data/chicago
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install demo test lint format bench chicago clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/risk demo --out $(DATA)/demo

test: $(STAMP)
	$(VENV)/bin/ruff check risk features models serve tests benchmarks notebooks
	$(PY) -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(VENV)/bin/ruff check risk features models serve tests benchmarks notebooks
	$(VENV)/bin/ruff format --check risk features models serve tests benchmarks notebooks

format: $(STAMP)
	$(VENV)/bin/ruff format risk features models serve tests benchmarks notebooks
	$(VENV)/bin/ruff check --fix risk features models serve tests benchmarks notebooks

bench: $(STAMP)
	$(PY) -m benchmarks.synth
	$(PY) -m benchmarks.features
	$(PY) -m benchmarks.features_vs_mlforecast
	$(PY) -m benchmarks.backtest
	$(PY) -m benchmarks.score
	$(PY) -m benchmarks.api_load --think-ms 1000
	$(PY) -m benchmarks.api_load --think-ms 1000 --db postgresql
	$(PY) -m benchmarks.api_load --think-ms 0 --out benchmarks/results/api_load_closed_loop.json

# Real data (issues 7, 12, 13): about 8 min on 2 cores; writes benchmarks/results/chicago/ (metrics.json is committed).
chicago: $(STAMP)
	$(PY) -m benchmarks.chicago --data $(CHICAGO) --out benchmarks/results/chicago

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# make demo: set up .venv and run the whole audit on the demo clinic.  make test: set up, then the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT := sample_data/demo_clinic/reports/demo

.PHONY: demo test setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (audit-kit)" > /dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/audit-kit run sample_data/demo_clinic/audit.yaml --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) sample_data/demo_clinic/reports build *.egg-info

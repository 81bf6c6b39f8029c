# The two commands: `make reproduce` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := qnb
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: reproduce test lab bench venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (qnb)" >/dev/null
	touch $@

venv: $(VENV)/.installed

reproduce: venv
	$(PY) -m qnb.reproduce

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) -m qnb.bench

lab: venv
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache

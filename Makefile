# The two commands: `make reproduce` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := qnb
export PYTHONHASHSEED := 0

.PHONY: reproduce test lab bench venv clean notebooks

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (qnb)" >/dev/null
	touch $@

venv: $(VENV)/.installed

reproduce: venv
	QNB_FIGURES=$(CURDIR)/figures $(PY) tools/reproduce.py

# unit + integration tests, a QUICK papermill run of every notebook, and nbval over the committed notebooks,
# on both cores (pytest-xdist; one notebook's cells stay together in one worker)
test: venv
	QNB_FIGURES=$(CURDIR)/build/nbval-figures $(PY) -m pytest -q -n 2 --dist loadfile tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# the committed figures/bench.* come from this command: 20 race seeds (20 more for the entrants of an
# undecided dollar target), 5 selection seeds on the full coarse grid, and race runs stopped at 4 x
# today's selection median minutes so that it fits 30 min on two cores (--pruned: a smaller grid)
BENCH_FLAGS ?= --seeds 20 --more-seeds 20 --selection-seeds 5 --race-cap 4
bench: venv
	$(PY) -m pip install --quiet -e ".[test,peers]"
	QNB_FIGURES=$(CURDIR)/figures $(PY) -m qnb.research.bench $(BENCH_FLAGS)

# after editing a notebook (its .py in an editor, or the .ipynb in JupyterLab): sync the jupytext
# pair (the newer file wins), then re-execute every notebook in place, reading the studies that
# make reproduce wrote (make reproduce recomputes them too)
notebooks: venv
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.ipynb
	QNB_FIGURES=$(CURDIR)/figures $(PY) tools/reproduce.py --reuse-studies

# a save drops widget outputs that have no saved state (tools/clean_notebooks.py: pre_save_hook)
lab: venv
	PYTHONPATH=$(CURDIR)/tools $(VENV)/bin/jupyter lab --ContentsManager.pre_save_hook=clean_notebooks.pre_save_hook notebooks/

# browser test of the notebooks' widget explorers in real JupyterLab and headless Chromium
# (tests/browser; screenshots in build/browser/). Debian's chromium + chromium-driver, as root.
.PHONY: browser-deps test-browser
browser-deps:
	command -v chromedriver >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)

$(VENV)/.browser-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e ".[test,browser]"
	touch $@

test-browser: venv browser-deps $(VENV)/.browser-installed
	QNB_BROWSER=1 $(PY) -m pytest -q -p no:cacheprovider -rA tests/browser

clean:
	rm -rf build .pytest_cache

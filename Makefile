# Three commands for a researcher: `make run` (the default study's latest edition), `make lab` (JupyterLab on
# the notebooks) and `make test`. Everything else (virtual environment, pinned packages, the Jupyter kernel
# `zoneindex`, Chinese font, Chromium) is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUDY ?= cdht
YEAR ?= latest

PORT ?= 8888

# Python keeps what it compiles (under __pycache__/, ignored by git) even where the shell sets
# PYTHONDONTWRITEBYTECODE: a run starts several Python processes and the tests over a hundred, and without the
# cache each of them compiles the package again and pytest rewrites every test module again (make test on a
# 2-core machine: 605 CPU-seconds with the variable set, 458 without it).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run lab test test-fast setup studies clean distclean

run: $(STAMP)
	$(BIN)/zoneindex run --study $(STUDY) --year $(YEAR)

# JupyterLab on 127.0.0.1 (PORT, or a free one if it is taken) with notebooks/ open, on the kernel zoneindex;
# it prints the URL to open. Notebooks run there write only to scratch/.
lab: $(STAMP)
	$(BIN)/python -m zoneindex.lab --port $(PORT)

# Everything, nbval on every notebook and the end-to-end runs included: the tests on every CPU (pytest-xdist,
# --dist loadfile: a test module's tests stay together on one worker, so its module fixtures are computed once;
# each study is run once for all of them) and, at the same time, the notebooks in a process of their own, in
# order, as nbval runs them in one out-root (nbval does not survive xdist: a worker may tear a notebook's kernel
# down between two cells). The notebooks' report is printed once the tests are done; either failing fails.
test: $(STAMP)
	@notebooks_log=$$(mktemp); \
	$(BIN)/python -m pytest -p no:xdist notebooks >"$$notebooks_log" 2>&1 & notebooks_pid=$$!; \
	$(BIN)/python -m pytest -n auto --dist loadfile tests; tests_status=$$?; \
	wait $$notebooks_pid; notebooks_status=$$?; cat "$$notebooks_log"; rm -f "$$notebooks_log"; \
	test $$tests_status -eq 0 && test $$notebooks_status -eq 0

# The unit and property tests only (no pipeline run, notebook, server, LibreOffice or Chromium), while you work.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n auto --dist loadfile tests

setup: $(STAMP)

studies: $(STAMP)
	$(BIN)/zoneindex studies

$(STAMP): pyproject.toml requirements.txt scripts/ensure_system_packages.sh
	@sh scripts/check_python.sh "$(PYTHON)" "$(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check --disable-pip-version-check
	$(BIN)/python -m zoneindex.lab --install >/dev/null
	bash scripts/ensure_system_packages.sh
	touch $(STAMP)

# clean: the generated outputs (rebuilt by make run); distclean: those and the virtual environment. Neither
# touches data/raw or the data-entry workbooks in data/entry.
clean:
	@echo "removing the generated outputs: data/processed figures reports .staging scratch (the .venv stays: make distclean removes it too)"
	rm -rf data/processed figures reports .staging scratch

distclean: clean
	@echo "removing the virtual environment $(VENV) (make run sets it up again)"
	rm -rf $(VENV)

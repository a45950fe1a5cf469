# Two commands for a researcher: `make run` (the default study's latest edition) and `make test`.
# Everything else (virtual environment, pinned packages, Jupyter kernel, Chinese font) is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUDY ?= cdht
YEAR ?= latest

.PHONY: run test setup studies clean

run: $(STAMP)
	$(BIN)/zoneindex run --study $(STUDY) --year $(YEAR)

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

studies: $(STAMP)
	$(BIN)/zoneindex studies

$(STAMP): pyproject.toml requirements.txt scripts/ensure_system_packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (zoneindex)" >/dev/null
	bash scripts/ensure_system_packages.sh
	touch $(STAMP)

clean:
	rm -rf data/processed figures reports .staging

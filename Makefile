# Two commands do everything on a fresh machine with Python 3.11:
#   make repro   -> .venv + requirements + the galaxy_xai package, then `dvc repro`
#   make test    -> the same set-up, then the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: repro test bench clean-venv

# Reinstall only when the requirements or the package metadata change; quiet when already set up.
# The package is installed in editable mode: stages and tests import the working tree's galaxy_xai.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip
	@$(PIP) -r requirements.txt
	@$(PIP) --no-deps -e .
	@touch $(STAMP)

repro: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)

# Every stage at the full-scale override's shapes (224 px, width 1.0, 520 bins, all SCL sets, MI pairs,
# SFNet targets and k) on 200 galaxies, one or two steps each, via `dvc repro` in a temporary clone (22 min
# here; .ci/run runs it after the tests).
.PHONY: smoke
smoke: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tests/smoke_full_scale.py

# All set-up happens here: a virtual environment in .venv, nothing taken from the machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint models bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/boxpose serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check service tests bench scripts
	$(BIN)/mypy service

models: $(STAMP)
	bash scripts/train_models.sh

bench: $(STAMP)
	$(BIN)/python bench/lite_forward.py
	$(BIN)/python bench/parse_speed.py
	$(BIN)/python bench/ablation.py

clean:
	rm -rf $(VENV)

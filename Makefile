# All set-up happens here: a virtual environment in .venv, nothing taken from the machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint notice models bench bench-env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[train,dev,import]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/boxpose serve

# The upload-page tests drive Debian's Chromium (tests/api/test_api_page.py); without it they
# skip, and `make test` says so before and after the run.
CHROMIUM := /usr/bin/chromium
CHROMIUM_NOTICE := echo "NOTICE: $(CHROMIUM) is missing, so the 2 upload-page tests will skip:\
 install Debian's chromium (apt-get install chromium, as root; .ci/run does it) and run make test again."

# The tests' set-up beyond Python packages (Debian packages as root, the importers' registry
# files in the user cache) lives in scripts/setup_test_env.sh, which .ci/run runs too.
test: $(STAMP)
	@bash scripts/setup_test_env.sh
	@test -x $(CHROMIUM) || $(CHROMIUM_NOTICE)
	@$(BIN)/python -m pytest; rc=$$?; test -x $(CHROMIUM) || $(CHROMIUM_NOTICE); \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): not a failure"; rc=0; fi; \
	  exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check service tests bench scripts deploy
	$(BIN)/mypy service

# NOTICE lists the bundled models from their manifests (tests/test_notice.py checks it).
notice: $(STAMP)
	$(BIN)/python scripts/write_notice.py

models: $(STAMP)
	bash scripts/train_models.sh

# OpenPose's parser (controlnet_aux) lives in its own environment, bench/.venv (gitignored).
bench/.venv/.installed: $(STAMP) bench/openpose_env.sh
	bash bench/openpose_env.sh $(BIN)/python

bench-env: bench/.venv/.installed

# Each script rewrites its own section of BENCHMARKS.md (and its plot in bench/plots/);
# one at a time, as each measures side by side within its own run.
bench: $(STAMP) bench/.venv/.installed
	$(BIN)/python bench/lite_forward.py
	$(BIN)/python bench/parse_speed.py
	$(BIN)/python bench/ablation.py
	bench/.venv/bin/python bench/openpose_parser.py --repeats 10
	$(BIN)/python bench/people_cost.py --repeats 5
	$(BIN)/python bench/forward_hardware.py
	$(BIN)/python bench/service_load.py --rounds 2 --reference 12
	$(BIN)/python bench/memory.py

clean:
	rm -rf $(VENV)

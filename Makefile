# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo

.PHONY: demo test install dev tools lab lint bench clean

# Stamp files: reinstall only when the project definition changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Argus for `--meter argus` and the traffic lab's tools (Debian packages; a no-op when installed).
tools:
	bash scripts/install-tools.sh

# A short run of every lab scenario (root: network namespaces).
lab: install tools
	$(BIN)/iotids lab run --out lab/run --seconds 8 --seed 0

dev: $(VENV)/.dev-installed

# Generates SYNTHETIC sample files, runs the whole study on them (`iotids reproduce`), then
# scores a SYNTHETIC pcap and conn.log with the study's CNN1D (`iotids detect`).
demo: install
	$(BIN)/iotids demo-data $(DEMO)/data --seed 0 --rows 100
	$(BIN)/iotids reproduce $(DEMO)/data --out $(DEMO)/study --epochs 15 --batch-size 128
	$(BIN)/iotids demo-data $(DEMO)/traffic --traffic --seed 0 --rows 100
	$(BIN)/iotids detect $(DEMO)/study/models/iotds2-cnn1d $(DEMO)/traffic/synthetic_capture.pcap \
		$(DEMO)/traffic/synthetic_conn.log --out $(DEMO)/alerts.jsonl

test: dev tools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check src tests benchmarks

bench: dev
	$(BIN)/python benchmarks/ingest.py $(if $(QUICK),--quick,)
	$(BIN)/python benchmarks/train.py $(if $(QUICK),--quick,)
	$(BIN)/python benchmarks/score.py $(if $(QUICK),--quick,)
	$(BIN)/python benchmarks/growth.py $(if $(QUICK),--quick,)
	$(BIN)/python benchmarks/quantize.py $(if $(QUICK),--quick,)
	$(BIN)/python benchmarks/summary.py

clean:
	rm -rf $(DEMO) lab .pytest_cache benchmarks/work

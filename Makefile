# beam_predictor: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
CLI    := $(PY) -m beam_predictor.cli

# Every process started from here that may touch rclpy stays on loopback, in its own domain.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_DOMAIN_ID ?= $(shell echo $$(( $$$$ % 100 + 1 )))
# Offline by design: never ask a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/build/ultralytics
export PYTHONUNBUFFERED := 1

APT_PACKAGES := libusb-1.0-0 libllvm19

DEMO_SCENARIO := data/demo_fixture
DEMO_BAG      := rosbags/demo_fixture

.PHONY: help setup test demo bench-convert clean

help:
	@echo "make demo   - set up, build the sample scenario and bag, and run the main job"
	@echo "make test   - set up and run the test suite"
	@echo "make setup  - only build $(VENV) (idempotent)"
	@echo "make bench-convert - converter throughput on a 500-frame full-size fixture"

setup: $(STAMP)

$(STAMP): requirements.txt setup.py
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	    echo "installing apt packages: $(APT_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	  fi; \
	else \
	  dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || echo "warning: not root; install $(APT_PACKAGES) with apt"; \
	fi
	test -x $(PY) || python3 -m venv $(VENV)
	set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 \
	  | { grep -v "^WARNING: Location" || true; }
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

test: setup
	$(PY) -m pytest -q test

$(DEMO_SCENARIO)/scenario.csv: config/fixture.yaml $(STAMP)
	rm -rf $(DEMO_SCENARIO)
	$(CLI) fixture $(DEMO_SCENARIO) --config config/fixture.yaml

$(DEMO_BAG)/metadata.yaml: $(DEMO_SCENARIO)/scenario.csv config/convert.yaml
	$(CLI) convert $(DEMO_SCENARIO) $(DEMO_BAG) --config config/convert.yaml --overwrite

demo: setup $(DEMO_BAG)/metadata.yaml
	$(CLI) inventory $(DEMO_BAG)

bench-convert: setup
	$(PY) scripts/bench_convert.py

clean:
	rm -rf build data $(DEMO_BAG) .pytest_cache

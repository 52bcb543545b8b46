# hasbench — every entry point a user needs. `make demo` and `make test` build the venv if missing.
SHELL := /bin/bash
# The Python the venv is built from: 3.11 (default, what CI runs) or 3.12; one lock serves both.
PYTHON_BOOTSTRAP ?= python3.11
# Its minor version, e.g. 3.12 (empty when it does not run: the install rule says why).
PY_MINOR := $(shell $(PYTHON_BOOTSTRAP) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# One venv per Python: .venv for 3.11, .venv-py3.12 for 3.12 (so switching never rebuilds one).
VENV ?= $(if $(filter 3.11,$(PY_MINOR)),.venv,.venv-py$(PY_MINOR))
PY := $(VENV)/bin/python
HASBENCH := $(VENV)/bin/hasbench
STAMP := $(VENV)/.hasbench-installed
PYTEST_ARGS ?=
TASK ?=
# Torch/OpenMP threads per run process. 1 keeps CPU runs fast on shared or loaded machines
# (2 threads waiting on each other made training 6-80x slower here); raise it on an idle
# many-core workstation, e.g. `make demo THREADS=8`.
THREADS ?= 1
# Runs of the demo executed at once (each in its own process with THREADS threads).
DEMO_WORKERS ?= 2
# mmcv for `make install`: auto (default) keeps an installed full mmcv (compiled ops) and installs
# the lock without mmcv-lite; full never installs mmcv-lite; lite installs the lock as it is
# (refused while a full mmcv is installed). See scripts/lock_for_install.py, requirements/README.md.
MMCV ?= auto

# Import-and-smoke check (CI runs it on Python 3.12): every task's framework imports, the HaS
# core and the shared task contract pass, and one tiny classification run trains and is recorded.
SMOKE_RESULTS ?= /tmp/hasbench-smoke-$(PY_MINOR)

.PHONY: install demo test smoke lint mutation bench-perf bench tables reproduce-all clean-venv

install: $(STAMP)

# The venv is rebuilt when the lock file or the package metadata changes.
$(STAMP): requirements/lock.txt pyproject.toml
	@command -v $(PYTHON_BOOTSTRAP) >/dev/null || { echo "hasbench needs $(PYTHON_BOOTSTRAP) on PATH (set PYTHON_BOOTSTRAP=/path/to/python3.11 or python3.12)"; exit 1; }
	@case "$(PY_MINOR)" in 3.11|3.12) ;; \
	  "") echo "$(PYTHON_BOOTSTRAP) is on PATH but does not run (a pyenv shim of a version not selected? try PYENV_VERSION=<version> or PYTHON_BOOTSTRAP=/full/path/to/python3.12)"; exit 1;; \
	  *) echo "hasbench runs on Python 3.11 or 3.12; $(PYTHON_BOOTSTRAP) is $(PY_MINOR) (set PYTHON_BOOTSTRAP=python3.11 or python3.12)"; exit 1;; esac
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check pip==25.3
	@# --no-deps: the lock lists every package; this keeps mmengine/mmcv-lite/mmaction2/grad-cam
	@# from pulling opencv-python variants over opencv-python-headless (see requirements/README.md).
	@# The lock's lines for this venv: without mmcv-lite where a full mmcv is installed (MMCV).
	$(PY) scripts/lock_for_install.py --lock requirements/lock.txt --mmcv $(MMCV) > $(VENV)/.lock-install.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r $(VENV)/.lock-install.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

demo: install
	OMP_NUM_THREADS=$(THREADS) $(HASBENCH) suite demo --workers $(DEMO_WORKERS)

test: install
	$(PY) -m ruff check .
	OMP_NUM_THREADS=$(THREADS) $(PY) -m pytest $(PYTEST_ARGS)

smoke: install
	$(PY) -c "import mmengine, mmpretrain, mmseg, mmaction, torchreid; from tasks import available_tasks, get_task; print('tasks:', *[get_task(t).name for t in available_tasks()])"
	OMP_NUM_THREADS=$(THREADS) $(PY) -m pytest -q -p no:cacheprovider tests/benchmark/test_hide_and_seek.py tests/tasks/test_contract.py
	OMP_NUM_THREADS=$(THREADS) $(HASBENCH) run classification --synthetic --model resnet-tiny-cifar --method has --epochs 1 --results $(SMOKE_RESULTS)

lint: install
	$(PY) -m ruff check .

# Speed figures (not timed tests): HaS per image and per batch next to a copy/clone, torchvision's
# and mmpretrain's RandomErasing and the original cell loop; mmpretrain loader throughput.
bench-perf: install
	$(PY) scripts/bench_has_speed.py --out results/perf/has_speed.csv
	$(PY) scripts/bench_pipeline_throughput.py --out results/perf/pipeline_throughput.csv
	@test -d results/demo/records && $(PY) scripts/demo_wall_times.py --out results/perf/demo_wall_time.csv \
		|| echo "no demo records: run 'make demo' for the per-task demo wall times"

# Mutation testing of the HaS core (not part of `make test`): mutmut changes the core one small
# edit at a time ([tool.mutmut] in pyproject.toml) and runs the core's tests against each;
# a mutant they do not catch is listed by `mutmut results` (inspect one: `mutmut show NAME`).
mutation: install
	rm -rf mutants
	OMP_NUM_THREADS=1 HASBENCH_PROPERTY_EXAMPLES=15 $(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results

bench: install
	@test -n "$(TASK)" || { echo "usage: make bench TASK=<task>  (see: hasbench list)"; exit 2; }
	OMP_NUM_THREADS=$(THREADS) $(HASBENCH) suite paper --executor local --only task=$(TASK)

tables: install
	$(HASBENCH) report --all

reproduce-all: install
	$(HASBENCH) suite paper --executor slurm

clean-venv:
	rm -rf $(VENV)

#!/usr/bin/env bash
# The one prepared GPU check: CUDA tests, HaS batch bandwidth, a throughput probe per task.
#
# For a Linux x86-64 machine with one NVIDIA GPU, Python 3.12, torch and torchvision already
# installed (any recent torch, not necessarily the lock's) and no network. The project's
# remaining dependencies come from the wheels `scripts/gpu_wheels.sh` put in WHEELS (default
# .whl) on a machine with network; they are installed into a private folder on PYTHONPATH, so
# the machine's own environment is left as it is. Steps, each under its own time limit so that
# the whole check ends within 8 minutes:
#   1. environment: Python, torch, CUDA, the GPU (log only);
#   2. `pytest -m cuda`: hide_patches_batch on CUDA against the CPU, the HaS data
#      preprocessors on CUDA, one training step per OpenMMLab task family with and without --amp
#      (cuda_tests.csv: one row per test);
#   3. `make bench-perf`'s CUDA rows: batched HaS GB/s next to a clone() of the batch (has_speed.csv);
#   4. the throughput probe of every task of configs/suites/paper.yaml, baseline vs HaS in its
#      paper placement (throughput.csv), which `hasbench suite paper --dry-run` reads.
# Writes OUT/{gpu_check.log,steps.csv,cuda_tests.csv,has_speed.csv,throughput.csv}.
# Without a GPU it runs the CPU fallback: the same steps at tiny sizes (the tests run it so),
# written to results/perf/cpu-fallback/ unless --out says otherwise.
#
# Usage: scripts/gpu_check.sh [--out DIR] [--wheels DIR]      (PYTHON=... picks the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
python=${PYTHON:-python3}
out="" wheels=".whl"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2;;
    --wheels) wheels="$2"; shift 2;;
    -h|--help) sed -n '2,22p' "$0"; exit 0;;
    *) echo "gpu_check.sh: unknown argument '$1' (takes --out DIR and --wheels DIR)" >&2; exit 2;;
  esac
done

command -v "$python" >/dev/null || { echo "gpu_check.sh: no '$python' on PATH (set PYTHON=/path/to/python3.12)" >&2; exit 2; }
"$python" -c "import torch, torchvision" 2>/dev/null \
  || { echo "gpu_check.sh: $python cannot import torch and torchvision; install them first" >&2; exit 2; }

# The dependencies: from the wheels folder where there is one, else they must import already.
if compgen -G "$wheels/*.whl" >/dev/null; then
  site=$(mktemp -d /tmp/hasbench-site.XXXXXX)
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$site" "$wheels"/*.whl || { echo "gpu_check.sh: installing $wheels/*.whl failed" >&2; exit 2; }
  export PYTHONPATH="$repo:$site${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
fi
"$python" -c "import mmengine, mmpretrain, mmseg, mmaction, torchreid, benchmark, tasks" 2>/dev/null || {
  echo "gpu_check.sh: the OpenMMLab stack / torchreid do not import and $wheels holds no wheels:" \
       "run scripts/gpu_wheels.sh $wheels on a machine with network and bring the folder along" >&2
  exit 2; }

if "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  mode=cuda; out=${out:-results/perf/gpu}
else
  mode=cpu; out=${out:-results/perf/cpu-fallback}
fi
mkdir -p "$out"
log="$out/gpu_check.log"
: > "$log"
echo "step,rc,seconds,limit_s" > "$out/steps.csv"
failed=0

step() {  # step NAME LIMIT_S COMMAND...: run it under a time limit, log it, record rc and time
  local name=$1 limit=$2 start rc
  shift 2
  echo "== $name ($mode, limit ${limit}s): $*" | tee -a "$log"
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  echo "$name,$rc,$(( $(date +%s) - start )),$limit" >> "$out/steps.csv"
  echo "   rc=$rc after $(( $(date +%s) - start ))s" | tee -a "$log"
  [ "$rc" -eq 0 ] || failed=1
}

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} PYTHONUNBUFFERED=1
step environment 30 "$python" - <<'PY'
import platform, subprocess, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
    subprocess.run(["nvidia-smi"], check=False)
else:
    print("no CUDA device: CPU fallback at tiny sizes")
PY

# cuda tests: on the CPU they all skip (that is the fallback: the selection and the skips run).
step cuda_tests 130 "$python" -m pytest -m cuda -q -p no:cacheprovider -rA \
    --basetemp="$out/.pytest-tmp" --junitxml="$out/cuda_tests.xml" tests
"$python" - "$out/cuda_tests.xml" "$out/cuda_tests.csv" <<'PY'
import csv, sys, xml.etree.ElementTree as ET
from pathlib import Path
source, target = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
if source.exists():
    for case in ET.parse(source).getroot().iter("testcase"):
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        rows.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                     "seconds": case.get("time")})
with target.open("w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=["test", "outcome", "seconds"])
    writer.writeheader()
    writer.writerows(rows)
print(f"{target}: {len(rows)} tests", {o: sum(r['outcome'] == o for r in rows) for o in {r['outcome'] for r in rows}})
PY
rm -rf "$out/.pytest-tmp" "$out/cuda_tests.xml"

if [ "$mode" = cuda ]; then
  step has_speed 60 "$python" scripts/bench_has_speed.py --rounds 10 --image-calls 5 \
      --bandwidth-device cuda --out "$out/has_speed.csv"
  # 40 measurements (20 rows x baseline/HaS) of 3 s each plus their builds: about 25 s per
  # task. The probe writes each row as it is measured, so a timeout keeps what was measured.
  step throughput 250 "$python" scripts/probe_throughput.py --suite configs/suites/paper.yaml \
      --device cuda --seconds 3 --out "$out/throughput.csv"
else
  step has_speed 60 "$python" scripts/bench_has_speed.py --rounds 2 --image-calls 1 \
      --batch-size 2 --bandwidth-device cpu --out "$out/has_speed.csv"
  step throughput 250 "$python" scripts/probe_throughput.py --suite configs/suites/paper.yaml \
      --device cpu --tiny --out "$out/throughput.csv"
fi

echo "wrote $out: $(cd "$out" && ls | tr '\n' ' ')" | tee -a "$log"
column -s, -t < "$out/steps.csv" | tee -a "$log"
exit "$failed"

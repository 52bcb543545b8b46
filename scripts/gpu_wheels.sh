#!/usr/bin/env bash
# Fill a folder with the wheels scripts/gpu_check.sh installs on a GPU machine that has no network.
#
# That machine is assumed to hold Python 3.12 with torch, torchvision and the common scientific
# stack (numpy, scipy, pandas, matplotlib, opencv-python-headless, pyyaml, rich, pytest,
# tensorboard, ...). What it lacks is the OpenMMLab stack, torchreid and their small pure-Python
# dependencies, plus the two pins the lock needs against newer releases: numpy 2.3.5 (numpy 2.4
# removes np.trapz / np.in1d, which mmaction2 and mmpretrain call) and setuptools 80.9.0
# (mmengine imports pkg_resources, removed in setuptools 81). Versions are read from
# requirements/lock.txt, so the GPU check runs the locked versions of everything it installs.
#
# Usage: scripts/gpu_wheels.sh [DIR]   (default .whl, which .gitignore ignores)
# The wheels are for CPython 3.12 on manylinux x86-64; the folder must stay under 60 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.whl}"
limit_mib=60

# Every package the GPU check installs (names as in the lock). decord (mmaction2's video reader),
# numpy and wcwidth are the compiled ones; the rest are pure Python. gdown and its beautifulsoup4
# are imported by torchreid's dataset registry without being declared.
packages=(
  mmengine mmcv-lite mmpretrain mmsegmentation mmaction2 torchreid grad-cam ttach submitit
  addict yapf platformdirs termcolor mat4py modelindex model-index ordered-set prettytable
  wcwidth ftfy importlib_metadata lazy-importer zipp decord gdown beautifulsoup4 soupsieve
  numpy setuptools
)
# What the GPU machine is assumed to hold already (its image's package list,
# /work/.library/device/KINDS.md); tests/scripts/test_gpu_scripts.py checks that these and the
# packages above cover every runtime requirement of the stack.
present=(
  torch torchvision triton sympy mpmath networkx filelock fsspec jinja2 markupsafe
  typing-extensions pillow scipy pandas matplotlib contourpy cycler fonttools kiwisolver
  pyparsing python-dateutil opencv-python-headless pyyaml rich pygments markdown-it-py mdurl
  markdown packaging tqdm requests click cloudpickle einops scikit-learn joblib threadpoolctl
  narwhals regex tensorboard pytest hypothesis
)

pin() {  # the lock's `name==version` line for a package (case-insensitive), or fail
  local line
  line=$(grep -i -E "^$1==" requirements/lock.txt) || { echo "$1 is not in requirements/lock.txt" >&2; exit 2; }
  echo "$line"
}

python=${PYTHON:-python3}
mkdir -p "$dest"
for name in "${packages[@]}"; do
  spec=$(pin "$name")
  # sdist-only pins (torchreid, grad-cam, ...) are built into wheels here; the rest are fetched.
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.12 --implementation cp --abi cp312 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform any \
      -d "$dest" "$spec" 2>/dev/null \
    || "$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$dest" "$spec"
done

total_kib=$(du -sk "$dest" | cut -f1)
echo "wheels in $dest (for scripts/gpu_check.sh):"
( cd "$dest" && ls -1s --block-size=K ./*.whl | sed 's#\./##' )
echo "total: $((total_kib / 1024)) MiB (limit ${limit_mib} MiB)"
if [ "$total_kib" -gt $((limit_mib * 1024)) ]; then
  echo "the wheels exceed ${limit_mib} MiB: drop a package the GPU machine already has" >&2
  exit 1
fi

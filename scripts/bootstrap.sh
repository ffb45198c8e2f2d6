#!/usr/bin/env bash
# Create .venv and install cosmos-sim into it (editable, with the extras named in $EXTRAS; default
# dev,bench: the test suite imports the benchmarks' OpenCV, open3d and kornia).
#
# torch comes first, chosen for the machine: the CUDA build where an NVIDIA GPU answers
# nvidia-smi, otherwise the CPU build (torch==2.13.0+cpu), so a CPU-only machine never
# downloads gigabytes of CUDA packages. The +cpu pin fails loudly where pip cannot see a CPU
# wheel, instead of falling back to the CUDA build: point pip at PyTorch's CPU wheel index
# (PIP_EXTRA_INDEX_URL) or set TORCH_CPU_SPEC. Once torch is installed, the
# project's own range (torch>=2.4) is already satisfied and pip leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${EXTRAS:-dev,bench}"
PYTHON="${PYTHON:-python3}"
TORCH_CPU_SPEC="${TORCH_CPU_SPEC:-torch==2.13.0+cpu}"
TORCH_GPU_SPEC="${TORCH_GPU_SPEC:-torch>=2.4}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "bootstrap: cosmos-sim needs Python >= 3.10; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi

# System libraries the wheels expect: MuJoCo renders offscreen through EGL (or OSMesa); open3d
# (the bench extra) links libusb-1.0. Install what is missing when we may (root with apt-get);
# otherwise say which packages are missing.
MISSING_APT=()
if ! ldconfig -p 2>/dev/null | grep -qE 'libEGL\.so|libOSMesa\.so'; then
    MISSING_APT+=(libegl1 libgl1-mesa-dri libegl-mesa0)
fi
if [[ ",$EXTRAS," == *",bench,"* ]] && ! ldconfig -p 2>/dev/null | grep -q 'libusb-1\.0\.so\.0'; then
    MISSING_APT+=(libusb-1.0-0)
fi
if [ "${#MISSING_APT[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing ${MISSING_APT[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${MISSING_APT[@]}"
    else
        echo "bootstrap: warning: missing system libraries; install the packages ${MISSING_APT[*]}" \
             "(rendering needs libEGL or libOSMesa, open3d needs libusb-1.0)" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "bootstrap: NVIDIA GPU found, installing $TORCH_GPU_SPEC"
        "${PIP[@]}" "$TORCH_GPU_SPEC"
    else
        echo "bootstrap: no NVIDIA GPU, installing the CPU build $TORCH_CPU_SPEC"
        if ! "${PIP[@]}" "$TORCH_CPU_SPEC"; then
            echo "bootstrap: pip found no $TORCH_CPU_SPEC wheel. Point pip at PyTorch's CPU wheel index" \
                 "(PIP_EXTRA_INDEX_URL=<index>) or set TORCH_CPU_SPEC to a CPU build it can reach." >&2
            exit 1
        fi
    fi
fi

echo "bootstrap: installing cosmos-sim[$EXTRAS]"
"${PIP[@]}" -e ".[$EXTRAS]"
.venv/bin/python -c 'import torch, mujoco, gymnasium, cosmos_sim; print(f"bootstrap: ok (torch {torch.__version__}, mujoco {mujoco.__version__}, gymnasium {gymnasium.__version__})")'
if [[ ",$EXTRAS," == *",bench,"* ]]; then
    .venv/bin/python -c 'import cv2, kornia, open3d; print(f"bootstrap: bench ok (opencv {cv2.__version__}, kornia {kornia.__version__}, open3d {open3d.__version__})")'
fi

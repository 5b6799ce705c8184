#!/usr/bin/env bash
# Sets up chainrule in ./.venv on a fresh Debian machine (or any machine with Python >= 3.11).
#   bash setup.sh          runtime: Python, Fashion-MNIST (Debian package), graphviz, Open MPI, the package
#                          with all its extras (CLI, captioner, MPI)
#   bash setup.sh --dev    the same plus the test tools (pytest, hypothesis, ruff, PyTorch CPU,
#                          Chromium for the browser test)
set -euo pipefail
cd "$(dirname "$0")"

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

python_ok() {
    command -v python3 >/dev/null 2>&1 &&
        python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# Debian packages: what is missing, installed in one apt-get call (skipped where apt or root is not).
pkgs=()
python_ok || pkgs+=(python3 python3-venv python3-pip)
[[ -d /usr/share/datasets/fashion-mnist ]] || pkgs+=(dataset-fashion-mnist)
command -v dot >/dev/null 2>&1 || pkgs+=(graphviz)
# A CJK font (1.6 MB) for explain --lang zh: the pictures (matplotlib, Graphviz) and the page.
fc-list :lang=zh 2>/dev/null | grep -q . || pkgs+=(fonts-wqy-microhei)
# Open MPI for data-parallel training under mpirun (docs/distributed.md); the headers and mpicc
# let pip build mpi4py from source where no binary wheel fits.
command -v mpirun >/dev/null 2>&1 || pkgs+=(openmpi-bin)
command -v mpicc >/dev/null 2>&1 || pkgs+=(libopenmpi-dev)
# Headless Chromium for the test that opens explain --html's page in a real browser (--dev only).
if ((dev)) && ! command -v chromium >/dev/null 2>&1; then pkgs+=(chromium); fi
if ((${#pkgs[@]})); then
    if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
        echo "setup: installing Debian packages: ${pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    else
        echo "setup: not root or no apt-get; please install: ${pkgs[*]}" >&2
        python_ok || exit 1
    fi
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# `pip install chainrule` is the engine alone; the README's commands need the extras too.
if ((dev)); then
    .venv/bin/python -m pip install -q -e ".[all,dev]"
else
    .venv/bin/python -m pip install -q -e ".[all]"
fi
echo "setup: ready (.venv)"

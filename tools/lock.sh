#!/usr/bin/env bash
# Re-resolve zkpot's Python environments into their locks (one pip call each, then freeze).
# Run it only to change a dependency; tools/bootstrap.sh installs from the locks.
#   requirements.lock                 the runtime (.venv): core, workers, API, Flower, their tests
#   tools/requirements-brownie.lock   eth-brownie (.venv-brownie): compiling and testing contracts
# eth-brownie pins ~80 packages exactly (web3, pydantic, pytest, hypothesis, packaging …) and
# Flower's pins do not fit beside them, so brownie lives in a tool environment of its own; the
# runtime never imports it (it reads the compiled artifacts under build/contracts).
# web3 stays on 7.x (zkpot.chain is written against it; an open range resolves 8.x).
# Celery's redis extra is not used: kombu 5.7's pins packaging==26.3 and flwr 1.42 requires
# packaging<26 (pip then backtracks to kombu sdists that no longer build); redis is pinned in
# the range kombu's extra asks for (>=6.4,<9) instead.
#   tools/lock.sh            both
#   tools/lock.sh runtime    requirements.lock only
#   tools/lock.sh brownie    tools/requirements-brownie.lock only
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}

freeze() {  # freeze <venv> : the environment's pins, public versions only
  # pip freeze writes the local version of the wheel it found (torch==2.13.0+cpu); the public
  # index serves no local versions and a GPU host needs the CUDA build of the same release
  "$1/bin/pip" freeze --all --exclude-editable | grep -v '^pip==' | sed -E 's/^([A-Za-z0-9_.-]+==[^+]+)\+.*/\1/'
}

lock() {  # lock <out> <header> <packages…>
  local out=$1 header=$2; shift 2
  local tmp; tmp=$(mktemp -d)
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
  { echo "$header"; freeze "$tmp/venv"; } > "$out"
  rm -rf "$tmp"
}

if [[ $which == all || $which == runtime ]]; then
  lock requirements.lock \
    "# zkpot's runtime environment (.venv), pinned. Regenerate with tools/lock.sh; install with tools/bootstrap.sh." \
    "flwr[simulation]==1.42.0" celery "redis>=6.4,<9" fastapi uvicorn torch==2.13.0 ezkl==23.0.5 \
    onnx scikit-learn typer rich httpx python-multipart cryptography "web3>=7.16,<8" eth-abi eth-account \
    eth-hash safe-pysha3 pydantic pydantic-settings PyYAML psutil requests playwright pytest pytest-timeout
  echo "-e ." >> requirements.lock
fi
if [[ $which == all || $which == brownie ]]; then
  # numpy: the contract tests compute commitments with zkpot.hashing
  lock tools/requirements-brownie.lock \
    "# eth-brownie's tool environment (.venv-brownie): brownie compile and the contract tests. Regenerate with tools/lock.sh brownie." \
    eth-brownie==1.22.2 numpy
fi

# Sourced by zkpot's scripts: the project-local tool paths and default ports.
# Every value can be overridden from the environment.
ZKPOT_ROOT="${ZKPOT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export ZKPOT_ROOT
export ZKPOT_STATE_DIR="${ZKPOT_STATE_DIR:-$ZKPOT_ROOT/.zkpot}"
export ZKPOT_ANVIL_PORT="${ZKPOT_ANVIL_PORT:-18545}"
export ZKPOT_REDIS_PORT="${ZKPOT_REDIS_PORT:-16379}"
export ZKPOT_API_PORT="${ZKPOT_API_PORT:-18000}"
# py-solc-x finds the solc-js shim here as solc-v<version>
export SOLCX_BINARY_PATH="$ZKPOT_ROOT/.tools/solcx"
export PATH="$ZKPOT_ROOT/.tools/bin:$ZKPOT_ROOT/.venv/bin:$PATH"
# the stage's fused kernels, built once per machine (zkpot/pot/kernels.py)
export ZKPOT_KERNEL_DIR="${ZKPOT_KERNEL_DIR:-$ZKPOT_STATE_DIR/kernels}"
# brownie and ezkl keep their homes (~/.brownie, ~/.svm) under this folder when run by zkpot
export ZKPOT_HOME_DIR="${ZKPOT_HOME_DIR:-$ZKPOT_STATE_DIR/home}"

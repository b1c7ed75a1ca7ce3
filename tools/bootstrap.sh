#!/usr/bin/env bash
# Take a fresh machine (Python 3.11, Node/npm, Debian apt, package registries only) to a
# working zkpot environment. Idempotent: each step is skipped when its inputs are unchanged.
#   tools/bootstrap.sh          what the demo needs
#   tools/bootstrap.sh --test   plus what the tests need (Chromium, frontend build, test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
stamp_ok() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  step "installing Debian packages: $*"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
mkdir -p "$ZKPOT_STATE_DIR" "$ZKPOT_HOME_DIR" .tools/bin .tools/solcx

# 1. Python: one pip call per environment, each from its lock.
#   .venv          requirements.lock: the runtime (core, workers, API, Flower) and its tests
#   .venv-NAME     tools/requirements-NAME.lock: tools whose pins the runtime cannot share;
#                  .venv-brownie (contracts: compile, contract tests) always, the others with --test
# (container images install the runtime lock into the system Python and set ZKPOT_SYSTEM_PYTHON=1)
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
make_venv() {  # make_venv <dir> <lock> <hash>
  local started=$SECONDS
  step "Python environment $1 from $2"
  rm -rf "$1"
  python3 -m venv "$1"
  quiet_pip "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
  echo "$3" > "$1/.zkpot-lock"
  echo "    $1 ready in $((SECONDS - started)) s"
}
h=$(hash_of requirements.lock pyproject.toml)
if [[ "${ZKPOT_SYSTEM_PYTHON:-0}" != 1 ]] && ! stamp_ok .venv/.zkpot-lock "$h"; then
  make_venv .venv requirements.lock "$h"
fi
for lock in tools/requirements-*.lock; do
  [[ -e "$lock" ]] || continue
  name=$(basename "$lock" .lock); name=${name#requirements-}
  [[ $name == brownie || $want_test -eq 1 ]] || continue
  h=$(hash_of "$lock")
  stamp_ok ".venv-$name/.zkpot-lock" "$h" || make_venv ".venv-$name" "$lock" "$h"
done
brownie_bin="$ZKPOT_ROOT/.venv-brownie/bin"

# 2. npm tools (Anvil, solc-js) into tools/node_modules, and the solc shims.
h=$(hash_of tools/package.json tools/package-lock.json)
if ! stamp_ok tools/node_modules/.zkpot-lock "$h"; then
  step "npm tools (anvil, solc-js)"
  npm ci --prefix tools --no-audit --no-fund --loglevel=error
  echo "$h" > tools/node_modules/.zkpot-lock
fi
ln -sf "$ZKPOT_ROOT/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" .tools/bin/anvil
write_solc() {  # write_solc <path> <solc-js package dir>
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\nexec node "%s" "%s" "$@"\n' "$ZKPOT_ROOT/tools/solc-shim.js" "$2" > "$1"
  chmod +x "$1"
}
solc_version=$(sed -n 's/^ *version: *\([0-9.]*\).*/\1/p' brownie-config.yaml | head -1)
write_solc ".tools/solcx/solc-v$solc_version" "$ZKPOT_ROOT/tools/node_modules/solc"
write_solc .tools/bin/solc "$ZKPOT_ROOT/tools/node_modules/solc"
# ezkl's EVM helpers look for solc 0.8.20 under ~/.svm (zkpot runs them with HOME=$ZKPOT_HOME_DIR)
write_solc "$ZKPOT_HOME_DIR/.svm/0.8.20/solc-0.8.20" "$ZKPOT_ROOT/tools/node_modules/solc-0.8.20"
# brownie (its own environment), with its home inside the project
printf '#!/bin/sh\nHOME="%s" exec "%s/brownie" "$@"\n' "$ZKPOT_HOME_DIR" "$brownie_bin" > .tools/bin/brownie
chmod +x .tools/bin/brownie

# 3. brownie's development network: Anvil on the project's port.
if ! stamp_ok "$ZKPOT_HOME_DIR/.zkpot-anvil-port" "$ZKPOT_ANVIL_PORT"; then
  step "brownie development network -> anvil on port $ZKPOT_ANVIL_PORT"
  (cd "$ZKPOT_HOME_DIR" && brownie networks modify development port="$ZKPOT_ANVIL_PORT" >/dev/null)
  echo "$ZKPOT_ANVIL_PORT" > "$ZKPOT_HOME_DIR/.zkpot-anvil-port"
fi

# 4. Redis (started and stopped by tools/services.sh on the project's port).
command -v redis-server >/dev/null || apt_install redis-server

# 5. The stage's fused kernels (zkpot/pot/kernels.c), built with the machine's C compiler into
# $ZKPOT_KERNEL_DIR; without one a stage runs its numpy path (same results, slower).
command -v cc >/dev/null || apt_install gcc libc6-dev
python3 -m zkpot.pot.kernels >/dev/null || echo "    a stage runs its numpy path (the same results, slower)"

# 6. Test-only: Chromium for the dashboard tests, and the frontend build.
if [[ $want_test -eq 1 ]]; then
  command -v chromium >/dev/null || apt_install chromium
  command -v ipfs_cid >/dev/null || apt_install ipfs-cid
fi
if [[ -f frontend/package.json ]]; then
  h=$(hash_of frontend/package.json frontend/package-lock.json)
  if ! stamp_ok frontend/node_modules/.zkpot-lock "$h"; then
    step "frontend npm packages"
    npm ci --prefix frontend --no-audit --no-fund --loglevel=error
    echo "$h" > frontend/node_modules/.zkpot-lock
  fi
  h=$(find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
  if ! stamp_ok frontend/dist/.zkpot-build "$h"; then
    step "frontend build"
    npm run --prefix frontend build --silent
    echo "$h" > frontend/dist/.zkpot-build
  fi
fi

# 7. Contracts compiled (ABIs under build/contracts are generated, never edited).
sources=$(find contracts -name '*.sol' | sort)
h=$(hash_of $sources brownie-config.yaml)
if [[ -n "$sources" ]] && ! stamp_ok build/.zkpot-compiled "$h"; then
  step "compiling contracts"
  # generated ABIs of contracts that no longer exist would stop brownie loading the project
  rm -rf build/contracts build/interfaces
  brownie compile >/dev/null
  echo "$h" > build/.zkpot-compiled
fi
step "environment ready"

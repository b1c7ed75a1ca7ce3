#!/usr/bin/env bash
# Run every zkpot test: the contract tests under brownie's pytest plugin (it starts Anvil on
# the project's port), then everything else without it (fixtures start their own Anvil and
# Redis on free loopback ports and stop them). Prints one summary line at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
export HOME="$ZKPOT_HOME_DIR"
export PYTHONDONTWRITEBYTECODE=1
# zk circuits set up by the tests are kept between runs (keyed by architecture, N and version)
export ZKPOT_TEST_CIRCUIT_DIR="${ZKPOT_TEST_CIRCUIT_DIR:-$ZKPOT_STATE_DIR/test-circuits}"
args=("$@")
status=0
declare -a summary

run() {  # run <label> <pytest args…>
  local label=$1; shift
  local log="$ZKPOT_STATE_DIR/logs/pytest-$label.log"
  mkdir -p "$(dirname "$log")"
  set +e
  python -m pytest "$@" "${args[@]}" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  if [[ $rc -eq 5 ]]; then
    echo "!! $label: no tests were collected"; rc=1
  fi
  [[ $rc -ne 0 ]] && status=1
  summary+=("$label: $(grep -E '^=+ .*(passed|failed|error).* =+$' "$log" | tail -1 | tr -d '=' | xargs)")
}

if [[ -n "$(find tests/contracts -name 'test_*.py' -print -quit 2>/dev/null)" ]]; then
  run contracts tests/contracts -q
fi
run python tests -q -p no:pytest-brownie --ignore=tests/contracts

echo
echo "zkpot test summary"
for line in "${summary[@]}"; do echo "  $line"; done
if [[ $status -eq 0 ]]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED"; fi
exit $status

#!/usr/bin/env bash
# Run every zkpot test: the contract tests in brownie's environment (.venv-brownie) under its
# pytest plugin (it starts Anvil on the project's port), then everything else in the runtime
# environment (.venv; fixtures start their own Anvil and Redis on free loopback ports and stop
# them). Ends with a summary and a total line.
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

totals=(0 0 0 0)  # passed failed skipped errors, over every pytest run

run() {  # run <label> <python> <pytest args…>
  local label=$1 python=$2; shift 2
  local log="$ZKPOT_STATE_DIR/logs/pytest-$label.log"
  mkdir -p "$(dirname "$log")"
  set +e
  "$python" -m pytest "$@" "${args[@]}" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  if [[ $rc -eq 5 ]]; then
    echo "!! $label: no tests were collected"; rc=1
  fi
  if [[ $rc -ne 0 ]]; then status=1; fi
  # pytest's closing line, e.g. "116 passed, 1 skipped, 592 warnings in 398.54s"
  local closing
  closing=$(grep -E '^[= ]*[0-9]+ (passed|failed|error|skipped)' "$log" | tail -1 | tr -d '=' | xargs || true)
  summary+=("$label: ${closing:-no result line (exit $rc)}")
  local i=0 word n bad=0
  for word in passed failed skipped error; do
    n=$(grep -oE "[0-9]+ $word" <<<"$closing" | grep -oE '^[0-9]+' || true)
    totals[$i]=$(( ${totals[$i]} + ${n:-0} ))
    [[ $word == failed || $word == error ]] && bad=$(( bad + ${n:-0} ))
    i=$((i + 1))
  done
  # a run that failed without a failing test (no tests, a crash) still counts as a failure
  if [[ $rc -ne 0 && $bad -eq 0 ]]; then totals[3]=$(( ${totals[3]} + 1 )); fi
  return 0
}

if [[ -n "$(find tests/contracts -name 'test_*.py' -print -quit 2>/dev/null)" ]]; then
  run contracts "$ZKPOT_ROOT/.venv-brownie/bin/python" tests/contracts -q
fi
run python "$ZKPOT_ROOT/.venv/bin/python" tests -q -p no:pytest-brownie --ignore=tests/contracts

echo
echo "zkpot test summary"
for line in "${summary[@]}"; do echo "  $line"; done
if [[ $status -eq 0 ]]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED"; fi
failed=$(( ${totals[1]} + ${totals[3]} ))
echo "total: ${totals[0]} passed, $failed failed, ${totals[2]} skipped"
exit $status

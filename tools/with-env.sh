#!/usr/bin/env bash
# Run a command inside zkpot's environment (venv and project tools on PATH, project HOME for
# brownie and ezkl so their state stays in the project).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ZKPOT_ROOT"
export HOME="$ZKPOT_HOME_DIR"
exec "$@"

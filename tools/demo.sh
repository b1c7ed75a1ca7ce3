#!/usr/bin/env bash
# `make demo`: run zkpot's demo job end to end on embedded defaults.
set -euo pipefail
exec "$(dirname "$0")/with-env.sh" python -m demo "$@"

#!/usr/bin/env bash
# Re-resolve zkpot's Python dependencies into requirements.lock (one pip call, then freeze).
# Run it only to change a dependency; bootstrap installs from the lock.
# eth-brownie pins ~80 packages exactly, so everything is resolved together:
#  - celery without its [redis] extra (kombu[redis] pins packaging 26, brownie pins 24.2);
#  - no pydantic-settings (it needs python-dotenv >= 0.21, brownie pins 0.16): zkpot.config
#    reads the environment itself.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install eth-brownie==1.22.2 celery "redis>=6.4,<9" fastapi uvicorn \
  torch==2.13.0 ezkl==23.0.5 onnx scikit-learn typer rich httpx python-multipart \
  cryptography playwright pytest-timeout
{
  echo "# zkpot's Python environment, pinned. Regenerate with tools/lock.sh; install with tools/bootstrap.sh."
  # pip freeze writes the local version of the wheel it found (torch==2.13.0+cpu); the public
  # index serves no local versions and a GPU host needs the CUDA build of the same release
  "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -v '^pip==' | sed -E 's/^(torch[a-z]*==[^+]+)\+.*/\1/'
  echo "-e ."
} > requirements.lock
rm -rf "$tmp"

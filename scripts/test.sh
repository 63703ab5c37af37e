#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: install from the lock (with the test extra), then
# pytest. Pass pytest arguments to narrow it, e.g. `bash scripts/test.sh -m "not scheduler"`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
python3 -m pip install --quiet --disable-pip-version-check uv==0.13.8
python3 -m uv sync --frozen --inexact --extra test --quiet
export SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true
exec "$repo/.venv/bin/python" -m pytest -p no:cacheprovider "$@"

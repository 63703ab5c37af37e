#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: install from the lock (with the test extra), then
# pytest. Pass pytest arguments to narrow it, e.g. `bash scripts/test.sh -m "not scheduler"`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
# the UI plugin is tested in headless Chromium, driven through chromedriver (Debian's packages)
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq chromium chromium-driver >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }
  else
    echo "install Chromium and ChromeDriver first (Debian: sudo apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check uv==0.13.8
python3 -m uv sync --frozen --inexact --extra test --quiet
export SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true
# lint (pyflakes, pycodestyle, import order, bugbear) and types (config, core, sources), as pyproject.toml sets them
"$repo/.venv/bin/ruff" check --quiet "$repo"
"$repo/.venv/bin/mypy" --no-error-summary
exec "$repo/.venv/bin/python" -m pytest -p no:cacheprovider --durations=25 "$@"

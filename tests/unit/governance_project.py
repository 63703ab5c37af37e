"""A small project on disk for sensor and trigger tests (state files only; no warehouse)."""

from __future__ import annotations

from pathlib import Path

SOURCES = """\
version: "1.0"
sources:
  - name: orders
    type: csv
    freshness: {warn_after: 1h, error_after: 2h}
    csv: {directory: data/orders}
  - name: customers
    type: csv
    csv: {directory: data/customers}
"""


def make(root: Path) -> Path:
    (root / "data" / "orders").mkdir(parents=True)
    (root / "data" / "customers").mkdir(parents=True)
    (root / "sources.yml").write_text(SOURCES)
    return root


def state_dir(root: Path, source: str) -> Path:
    return root / ".dango" / "state" / "sources" / source

"""README's main command, `bash scripts/demo.sh`, run as README says: it installs (already done here, so
quick), loads the demo's four CSV sources and builds its dbt project under `airflow dags test`, prints
what it built and its own time, and leaves the warehouse with the demo's marts."""

from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.integration.expected import demo_expectations

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_the_demo_command(tmp_path):
    demo = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], cwd=REPO, capture_output=True, text=True,
                          timeout=1500, env={**env, "DANGO_DEMO_DIR": str(demo)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    for source in ("customers", "products", "orders", "order_lines"):
        assert f"== airflow dags test dango_ingest__{source}" in out
    assert "== airflow dags test dango_transform" in out
    assert re.search(r"^demo finished in \d+\.\d s \(after the install\): project in ", out, re.M), out[-2000:]

    expected = demo_expectations(demo / "project" / "include" / "data")
    con = duckdb.connect(str(demo / "project" / "data" / "warehouse.duckdb"), read_only=True)
    try:
        clv = dict(con.sql("select customer_id, lifetime_value from marts.customer_lifetime_value").fetchall())
    finally:
        con.close()
    assert {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in clv.items()} == expected["lifetime_value"]
    assert "  top customers: [(" in out

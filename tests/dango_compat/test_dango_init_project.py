"""A project made by Dango 1.0.13's own `dango init`, with a source added by Dango's own code, runs here
unchanged: its `.dango/sources.yml`, `.dango/project.yml`, dbt project and dbt profile (which names the
`httpfs` and `parquet` extensions and a relative warehouse path) are read as they are; the ingest and the
transform run under `airflow dags test` with every process audited: nothing leaves this machine."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, run
from tests.dango_compat import peer

pytestmark = pytest.mark.slow
NETAUDIT = Path(__file__).resolve().parents[1] / "netaudit"

ADD_SOURCE = """
import sys
from pathlib import Path
from dango.config.loader import ConfigLoader
from dango.config.models import DataSource, SourcesConfig
from dango.ingestion.sources.setup_service import build_source_config

root = Path(sys.argv[1])
loader = ConfigLoader(root)
sources = loader.load_sources_config().sources
entry = build_source_config("csv", "orders", {"directory": "data/uploads/orders", "file_pattern": "*.csv"})
loader.save_sources_config(SourcesConfig(sources=[*sources, DataSource(**entry)]))
"""


def test_a_project_from_dangos_own_init_loads_and_transforms(tmp_path, airflow_home):
    peer.run_dango("init", "shop", "--skip-wizard", cwd=tmp_path)
    project = tmp_path / "shop"
    peer.run_python(ADD_SOURCE, tmp_path, str(project))
    profile = (project / "dbt" / "profiles.yml").read_text()
    assert "httpfs" in profile and "../data/warehouse.duckdb" in profile  # Dango's profile, unchanged
    orders = project / "data" / "uploads" / "orders"
    orders.mkdir(parents=True)
    (orders / "2024-01.csv").write_text("order_id,amount\n1,10.5\n2,20.0\n3,7.25\n")
    (project / "dags").mkdir()
    (project / "dags" / "dango_dags.py").write_text(  # README's DAG file for a project moved over
        '"""Airflow DAGs of the dango project."""\nfrom dango_provider.dag_builder import register\n\n'
        "register(globals())\n")
    audit = tmp_path / "network.log"
    env = airflow_env(airflow_home, project, PYTHONPATH=str(NETAUDIT), DANGO_NET_AUDIT_LOG=str(audit))
    for switch in ("SCARF_NO_ANALYTICS", "DO_NOT_TRACK"):  # telemetry stays off without the user's switches
        env.pop(switch, None)

    validate = run([str(BIN / "dango"), "validate", str(project)], env).stdout
    assert "valid, 1 source(s)" in validate
    assert ("note: dbt profile shop.dev: extensions httpfs, parquet are not installed (nothing is downloaded at "
            "run time); the runs use a derived copy of profiles.yml") in validate

    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__orders"], env)
    run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)

    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("select count(*), sum(amount) from staging.stg_orders__orders").fetchone() == (3, 37.75)
    finally:
        con.close()
    assert (project / "dbt" / "profiles.yml").read_text() == profile
    lines = audit.read_text().splitlines()
    assert any(line.startswith("armed") for line in lines)
    assert [line for line in lines if line.startswith("refused")] == []
    assert os.environ.get("DANGO_NET_AUDIT_LOG") is None

"""What only the DuckLake warehouse does (catalog on the test PostgreSQL server, data under a local path):
packaged extensions only, a conflicting commit retried a bounded number of times, dbt building from what
dlt loaded, no catalog password in errors or dbt's output. test_warehouse_behaviour.py runs the rest on
both warehouse types."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dlt
import duckdb
import pytest

import dango_provider.sources.pipeline  # noqa: F401 - dlt's settings as every pipeline of ours has them
from dango_provider.exceptions import DangoError
from dango_provider.hooks.ducklake import DuckLakeHook, is_conflict
from tests import pg
from tests.integration.test_warehouse_behaviour import scalar as count

pytestmark = pytest.mark.slow

PASSWORD = "lk" + secrets.token_hex(10)


@pytest.fixture
def lake(tmp_path, monkeypatch) -> DuckLakeHook:
    with pg.temporary_database("dango_lake") as database:
        # trust auth: the password is sent and ignored, so it is in every connection string
        monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", pg.url(database, password=PASSWORD))
        yield DuckLakeHook("lake_catalog", tmp_path / "lake_data")


def test_extensions_come_from_the_installed_packages(lake):
    con = lake.connect()
    try:
        loaded = dict(con.execute("select extension_name, install_path from duckdb_extensions() "
                                  "where extension_name in ('ducklake', 'postgres_scanner') and loaded").fetchall())
        settings = dict(con.execute("select name, value from duckdb_settings() where name in "
                                    "('autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
    finally:
        con.close()
    assert set(loaded) == {"ducklake", "postgres_scanner"}
    assert all("/duckdb_ext/extensions/v" + duckdb.__version__ + "/" in path for path in loaded.values()), loaded
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def test_a_conflicting_commit_is_retried_on_a_fresh_transaction(lake):
    lake.transaction(lambda con: con.execute("create table t as select range as id from range(5)"))
    rival = lake.connect()
    attempts = []

    def delete_one(con) -> None:
        attempts.append(len(attempts) + 1)
        con.execute("delete from t where id = 1")
        if len(attempts) == 1:  # another writer deletes from the same file and commits first
            rival.execute("begin transaction")
            rival.execute("delete from t where id = 1")
            rival.execute("commit")

    try:
        lake.transaction(delete_one)
    finally:
        rival.close()
    assert attempts == [1, 2]
    assert count(lake, "select count(*) from t") == 4


def test_a_commit_that_keeps_conflicting_fails_after_the_bounded_attempts(lake):
    lake.transaction(lambda con: con.execute("create table t as select range as id from range(5)"))
    rival = lake.connect()
    attempts = []

    def delete_always_beaten(con) -> None:
        attempts.append(1)
        con.execute("delete from t where id = 1")
        rival.execute("begin transaction")
        rival.execute("delete from t where id = 1 or true")  # touches the same file every time
        rival.execute("insert into t select range from range(5)")
        rival.execute("commit")

    try:
        with pytest.raises(duckdb.TransactionException) as raised:
            lake.transaction(delete_always_beaten, attempts=3)
    finally:
        rival.close()
    assert is_conflict(raised.value)
    assert len(attempts) == 3


def test_an_unreachable_catalog_is_an_error_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_CATALOG", pg.url("nowhere", password=PASSWORD, port=pg.PORT + 1))
    with pytest.raises(DangoError) as raised:
        DuckLakeHook("lake_catalog", tmp_path / "data").connect()
    message = str(raised.value)
    assert "Airflow connection 'lake_catalog'" in message
    assert PASSWORD not in message


def test_dbt_builds_into_the_lake_from_what_dlt_loaded(lake, tmp_path):
    """A dbt project whose profile is ``LAKE_OUTPUT``: a table and a view over the rows dlt loaded, with a
    test; the catalog URL (password included) never in dbt's output or log file."""
    import subprocess
    import sys

    import yaml

    from dango_provider.core.dbt_profile import LAKE_OUTPUT
    from dango_provider.offline import TELEMETRY_OFF
    from dango_provider.scaffold.templates import SCHEMA_MACRO

    pipeline = dlt.pipeline("lake_dbt", destination=lake.dlt_destination(), dataset_name="raw_shop",
                            pipelines_dir=str(tmp_path / "pipelines"))
    pipeline.run([{"order_id": i, "amount": float(i)} for i in range(100)], table_name="orders")
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: lake_shop\nversion: '1.0'\nprofile: lake\n")
    (project / "profiles.yml").write_text(yaml.safe_dump({"lake": {"target": "dev", "outputs": {"dev": LAKE_OUTPUT}}}))
    (project / "macros").mkdir()
    (project / "macros" / "schema.sql").write_text(SCHEMA_MACRO)
    (project / "models" / "big_orders.sql").write_text(
        "{{ config(materialized='table', schema='marts') }}\n"
        "select * from {{ source('raw_shop', 'orders') }} where amount >= 50\n")
    (project / "models" / "big_order_ids.sql").write_text("select order_id from {{ ref('big_orders') }}\n")
    (project / "models" / "schema.yml").write_text(
        "version: 2\nsources:\n  - name: raw_shop\n    tables: [{name: orders}]\n"
        "models:\n  - name: big_orders\n    columns:\n      - name: order_id\n"
        "        data_tests: [unique, not_null]\n")
    env = {**os.environ, **lake.dbt_env(), **lake.dbt_secret_env(), **TELEMETRY_OFF}
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run([str(dbt), "build", "--profiles-dir", str(project), "--project-dir", str(project)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASS=4" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr + (project / "logs" / "dbt.log").read_text()
    assert count(lake, "select count(*) from marts.big_orders") == 50
    assert count(lake, "select count(*) from main.big_order_ids") == 50
    assert list(Path(lake.data_path).rglob("*.parquet")), "the data is Parquet files under the data path"
    assert PASSWORD not in json.dumps(lake.dbt_env())


FIRST_ATTACH = """
import sys, time
from dango_provider.hooks.ducklake import DuckLakeHook
hook = DuckLakeHook("lake_catalog", sys.argv[1])
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
hook.connect().close()
"""


def test_first_attaches_of_a_new_lake_at_once_all_succeed(lake):
    """Tasks of several sources attach a lake nobody created yet at the same moment: each of them
    attaches (those that lost the race to create the catalog attach again)."""
    import subprocess
    import sys
    import time

    start = str(time.time() + 6)
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_ATTACH, str(lake.data_path), start],
                              stderr=subprocess.PIPE, text=True, env=os.environ) for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, "\n".join(e[-1500:] for e in errors if e)


def test_a_commit_checked_against_concurrent_table_creations_is_retried(lake):
    """DuckLake 0.3 fails a commit with "Failed to parse catalog entry" when two transactions committed
    since it began, one creating several tables (the governance tables): the load's history row is
    written again on a fresh transaction instead of failing the load task."""
    from datetime import UTC, datetime

    from dango_provider.core import governance_meta
    from dango_provider.core.load_history import LoadRecord, record_loads

    now = datetime.now(UTC)

    def history(source: str) -> list[LoadRecord]:
        return [LoadRecord(source=source, table_name="t", rows=1, load_id="l", files=1, started_at=now,
                           finished_at=now)]

    lake.transaction(lambda con: record_loads(con, history("first")))
    rivals = [lake.connect(), lake.connect()]
    attempts = []

    def record(con) -> None:
        attempts.append(len(attempts) + 1)
        record_loads(con, history("mine"))
        if len(attempts) == 1:  # the governance tables and another load's history commit first
            for rival, work in zip(rivals, (lambda c: governance_meta.ensure(c, None),
                                            lambda c: record_loads(c, history("other"))), strict=True):
                rival.execute("begin transaction")
                work(rival)
                rival.execute("commit")

    try:
        lake.transaction(record)
    finally:
        for rival in rivals:
            rival.close()
    assert attempts == [1, 2]
    assert count(lake, "select count(*) from dango_meta.load_history where source = 'mine'") == 1
    assert count(lake, "select count(*) from dango_meta.load_history") == 3

"""Text from sources.yml or from the data reaches generated dbt files as literal text: dbt renders
YAML strings and model SQL as Jinja, so an unescaped ``{{ env_var(...) }}`` would put an environment
value into manifest.json (served at /dango/docs/manifest.json), and a stray ``{{`` would break every
transform. Real dlt load, real dbt parse, build and docs generate."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.core.dbt_cli import run_dbt
from dango_provider.core.staging import RawTable, write_staging
from dango_provider.hooks.duckdb import DuckDBHook
from tests.conftest import make_small_project
from tests.ingest import sync

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-value-from-the-environment"
HOSTILE = [
    "{{ env_var('DANGO_TEST_SECRET') }}",
    "{% if true %}{{ env_var('DANGO_TEST_SECRET') }}{% endif %}",
    "{# a comment #} {{",
    "{%- raw -%}{{ env_var('DANGO_TEST_SECRET') }}{%- endraw -%} {% endraw %}",
]


def test_hostile_text_in_descriptions_and_columns_stays_literal(tmp_path):
    description = " | ".join(HOSTILE)
    text = (
        'version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
        f"    description: {json.dumps(description)}\n"
        "    freshness: {warn_after: 1d, loaded_at_field: \"{{ env_var('DANGO_TEST_SECRET') }}\"}\n"
        "    csv: {directory: data/orders}\n"
    )
    root = make_small_project(tmp_path / "p", text, {"data/orders/o.csv": "order_id,amount\n1,10.0\n2,20.0\n"})
    project = load_project(root)
    source = project.source("orders")
    assert source.description == description  # validate accepts it: it is only text
    sync(root, "orders")
    hook = DuckDBHook(project.warehouse_path)
    # a raw column whose name is a Jinja expression (a database or API source may deliver any name)
    con = hook.connect()
    try:
        for index, name in enumerate(HOSTILE):
            con.execute(f'ALTER TABLE raw_orders.orders ADD COLUMN "{name.replace(chr(34), chr(34) * 2)}" '
                        f"VARCHAR DEFAULT 'v{index}'")
        columns = [(r[0], r[1]) for r in con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = 'raw_orders' "
            "and table_name = 'orders' order by ordinal_position").fetchall()]
    finally:
        con.close()
    table = RawTable(source="orders", table="orders", columns=columns, primary_key=["order_id"],
                     description=description, masks={HOSTILE[1]: "'<masked {{ x }}>'"})
    freshness = {"loaded_at_field": "{{ env_var('DANGO_TEST_SECRET') }}", "warn_after": 86400}
    write_staging(project.dbt_dir, "orders", [table], source.description, freshness)

    env = {**hook.dbt_env(), "DANGO_TEST_SECRET": SECRET}
    os.environ.pop("DANGO_TEST_SECRET", None)
    run_dbt(["build", "--select", "stg_orders__orders"], project.dbt_dir, env)
    run_dbt(["docs", "generate"], project.dbt_dir, env)

    target = project.dbt_dir / "target"
    for name in ("manifest.json", "catalog.json", "run_results.json"):
        assert SECRET not in (target / name).read_text(), name
    compiled = next(target.glob("compiled/**/stg_orders__orders.sql")).read_text()
    assert SECRET not in compiled
    manifest = json.loads((target / "manifest.json").read_text())
    model = manifest["nodes"]["model.dango_project.stg_orders__orders"] if (
        "model.dango_project.stg_orders__orders" in manifest["nodes"]) else next(
        n for n in manifest["nodes"].values() if n["name"] == "stg_orders__orders")
    assert model["description"] == description
    raw_source = next(s for s in manifest["sources"].values() if s["source_name"] == "raw_orders")
    assert raw_source["source_description"] == description
    assert raw_source["loaded_at_field"] == "{{ env_var('DANGO_TEST_SECRET') }}"
    con = duckdb.connect(str(project.warehouse_path), read_only=True)
    try:
        row = con.sql("select * from staging.stg_orders__orders order by order_id limit 1").fetchone()
    finally:
        con.close()
    assert row[0] == 1 and "<masked {{ x }}>" in row and "v0" in row

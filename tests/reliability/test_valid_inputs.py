"""Inputs that are valid and must load as they mean: YAML merge keys, ${VAR} in path fields, very large
CSV fields. Real loader, real dlt loads into a real DuckDB file."""

from __future__ import annotations

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError
from tests.conftest import make_small_project
from tests.ingest import query, sync

pytestmark = pytest.mark.reliability

MERGED = """\
version: "1.0"
x-csv-source: &csv_source        # an anchor to merge into entries (top-level x- keys are for this)
  type: csv
  primary_key: order_id
  write_disposition: merge
sources:
  - <<: *csv_source
    name: orders
    csv: {directory: data/orders}
  - <<: *csv_source
    name: returns
    write_disposition: append    # a key written in the entry overrides the merged one
    csv: {directory: data/returns}
"""


def test_yaml_merge_keys_are_read_as_pyyaml_reads_them(tmp_path):
    root = make_small_project(tmp_path / "p", MERGED, {"data/orders/a.csv": "order_id,amount\n1,10.0\n"})
    project = load_project(root)
    orders, returns = project.config.sources
    assert (orders.type, orders.primary_key, orders.write_disposition) == ("csv", "order_id", "merge")
    assert (returns.type, returns.primary_key, returns.write_disposition) == ("csv", "order_id", "append")
    sync(root, "orders")
    assert query(root, "select order_id from raw_orders.orders") == [(1,)]


def test_a_key_written_twice_in_one_entry_is_still_refused(tmp_path):
    root = make_small_project(tmp_path / "p", MERGED.replace("    name: returns\n", "    name: returns\n    name: r2\n"),
                              {})
    with pytest.raises(DangoConfigError, match="duplicate key 'name'"):
        load_project(root)


def test_environment_variables_in_path_fields_are_expanded(tmp_path, monkeypatch):
    text = ('version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
            "    csv: {directory: '${ORDERS_DIR}/incoming'}\n")
    root = make_small_project(tmp_path / "p", text, {"data/orders/incoming/a.csv": "order_id,amount\n1,10.0\n"})
    with pytest.raises(DangoConfigError) as info:
        load_project(root)
    assert info.value.field == "sources[0].csv.directory"
    assert "refers to environment variable ORDERS_DIR, which is not set" in info.value.message

    monkeypatch.setenv("ORDERS_DIR", str(root / "data" / "orders"))
    assert load_project(root).config.sources[0].csv.directory == f"{root}/data/orders/incoming"
    sync(root, "orders")
    assert query(root, "select order_id from raw_orders.orders") == [(1,)]
    assert not (root / "${ORDERS_DIR}").exists()

    monkeypatch.setenv("ORDERS_DIR", "/etc")  # expanded paths are contained like written ones
    with pytest.raises(DangoConfigError, match="outside the project directory"):
        load_project(root)


def test_a_csv_field_of_several_megabytes_loads(tmp_path):
    big = "y" * 3_000_000
    root = make_small_project(
        tmp_path / "p", 'version: "1.0"\nsources:\n  - name: docs\n    type: csv\n    primary_key: id\n'
                        "    csv: {directory: data/docs}\n",
        {"data/docs/a.csv": f'id,body,n\n1,"{big}",5\n2,"a, ""quoted"" value",6\n'})
    sync(root, "docs")
    assert query(root, "select id, length(body), n from raw_docs.docs order by id") == [(1, 3_000_000, 5), (2, len('a, "quoted" value'), 6)]


def test_headers_in_other_scripts_stay_distinct_columns(tmp_path):
    root = make_small_project(
        tmp_path / "p", 'version: "1.0"\nsources:\n  - name: people\n    type: csv\n    primary_key: id\n'
                        "    csv: {directory: data/people}\n",
        {"data/people/a.csv": "id,名前,住所,café\n1,山田,東京,oui\n"})
    extracted, _ = sync(root, "people")
    assert extracted.source_schema == {"people": {"id": "BIGINT", "u540d_u524d": "VARCHAR", "u4f4f_u6240": "VARCHAR",
                                                  "caf_u00e9": "VARCHAR"}}
    assert query(root, "select id, u540d_u524d, u4f4f_u6240, caf_u00e9 from raw_people.people") == [
        (1, "山田", "東京", "oui")]


def test_a_type_change_in_a_dlt_source_is_a_breaking_change_with_the_rows_kept(tmp_path, monkeypatch):
    root = make_small_project(tmp_path / "p", (
        'version: "1.0"\nsources:\n  - name: feed\n    type: dlt_native\n'
        "    dlt_native: {source_module: feed, source_function: rows}\n"), {
        "custom_sources/feed.py": (
            "import os\nimport dlt\n\n@dlt.resource(primary_key='id', write_disposition='merge')\ndef rows():\n"
            "    if os.environ.get('FEED_TEXT'):\n        yield [{'id': 3, 'amount': 'EUR 498.33'}]\n"
            "    else:\n        yield [{'id': 1, 'amount': 10.5}, {'id': 2, 'amount': 20.0}]\n")})
    first, _ = sync(root, "feed")
    assert first.source_schema == {"rows": {"id": "bigint", "amount": "double"}}
    monkeypatch.setenv("FEED_TEXT", "1")

    second, _ = sync(root, "feed")

    assert second.source_schema == {"rows": {"id": "bigint", "amount": "varchar"}}  # drift sees DOUBLE -> VARCHAR
    assert query(root, "select id, amount, amount__v_text from raw_feed.rows order by id") == [
        (1, 10.5, None), (2, 20.0, None), (3, None, "EUR 498.33")]


def test_a_dlt_native_source_is_discovered_as_dango_does(tmp_path):
    """Dango discovers a custom source without source_module/source_function: custom_sources/<name>.py and
    its one @dlt.source function."""
    root = make_small_project(tmp_path / "p", (
        'version: "1.0"\nsources:\n  - name: prices\n    type: dlt_native\n    dlt_native: {}\n'
        "  - name: two\n    type: dlt_native\n    dlt_native: {function_kwargs: {}}\n"), {
        "custom_sources/prices.py": (
            "import dlt\n\n@dlt.resource(primary_key='day', write_disposition='merge')\ndef daily():\n"
            "    yield [{'day': '2024-01-01', 'price': 1.5}]\n\n@dlt.source\ndef prices_source():\n"
            "    return daily\n"),
        "custom_sources/two.py": "import dlt\n\n@dlt.source\ndef a():\n    return []\n\n@dlt.source\ndef b():\n"
                                 "    return []\n"})
    sync(root, "prices")
    assert query(root, "select day, price from raw_prices.daily") == [("2024-01-01", 1.5)]
    with pytest.raises(Exception, match=r"module 'two' \(.*two.py\) has 2 dlt sources \(a, b\); set "
                                        "dlt_native.source_function to the one to call"):
        sync(root, "two")


ALL_VALID = """\
version: "1.0"
x-csv-source: &csv_source
  type: csv
  primary_key: id
defaults: {retries: 0}
sources:
  - <<: *csv_source
    name: people
    csv: {directory: '${PEOPLE_DIR}'}
  - <<: *csv_source
    name: docs
    csv: {directory: data/docs}
"""


@pytest.mark.slow
def test_the_valid_inputs_load_and_transform_under_airflow(tmp_path, airflow_home):
    """Merge keys, ${VAR} in a path, headers in other scripts and a multi-megabyte field, together, through
    the real task path (`airflow dags test` of each ingest, then `dango_transform`)."""
    from tests.conftest import BIN, airflow_env, run

    big = "z" * 2_000_000
    root = make_small_project(tmp_path / "p", ALL_VALID, {
        "data/people/a.csv": "id,名前,住所\n1,山田,東京\n2,佐藤,大阪\n",
        "data/docs/a.csv": f'id,body\n1,"{big}"\n',
    })
    env = airflow_env(airflow_home, root, PEOPLE_DIR=str(root / "data" / "people"))
    for dag_id in ("dango_ingest__people", "dango_ingest__docs", "dango_transform"):
        run([str(BIN / "airflow"), "dags", "test", dag_id], env)
    assert query(root, "select id, u540d_u524d, u4f4f_u6240 from staging.stg_people__people order by id") == [
        (1, "山田", "東京"), (2, "佐藤", "大阪")]
    assert query(root, "select length(body) from staging.stg_docs__docs") == [(2_000_000,)]

"""Rows of one merge load that share a primary key: the load says how many were dropped and which rule
kept the survivor (the file that sorts last, then the row nearest the end of its file, or the latest
timestamp_column), and ``on_duplicate_keys: fail`` refuses such a load naming the keys and files."""

from __future__ import annotations

import logging

import pytest

from dango_provider.exceptions import SourceDataError
from tests.conftest import make_small_project
from tests.ingest import query, sync

pytestmark = pytest.mark.reliability


def project(tmp_path, extra: str = "", files: dict | None = None):
    text = ('version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
            f"{extra}    csv: {{directory: data/orders}}\n")
    return make_small_project(tmp_path / "p", text, files or {
        "data/orders/a.csv": "order_id,amount\n1,10.0\n2,20.0\n1,11.0\n3,30.0\n1,12.0\n",
        "data/orders/b.csv": "order_id,amount\n2,21.0\n4,40.0\n",
    })


def test_duplicates_are_counted_and_the_last_row_wins(tmp_path, caplog):
    root = project(tmp_path)
    with caplog.at_level(logging.WARNING):
        extracted, loaded = sync(root, "orders")

    assert query(root, "select order_id, amount from raw_orders.orders order by 1") == [
        (1, 12.0), (2, 21.0), (3, 30.0), (4, 40.0)]
    assert extracted.row_counts == {"orders": 4} and loaded.row_counts == {"orders": 4}  # the rows kept, not 7
    message = next(r.getMessage() for r in caplog.records if "dropped" in r.getMessage())
    assert message == (
        "source 'orders': 3 row(s) dropped: their primary key (order_id) appears again later in this load; kept "
        "the row of the file that sorts last, and within a file the row nearest its end (on_duplicate_keys: "
        "keep_last; set fail to refuse such loads)")


def test_the_last_row_of_a_large_file_wins(tmp_path):
    lines = "".join(f"{i % 1000},{i}\n" for i in range(200_000))  # every key 200 times, in file order
    root = project(tmp_path, files={"data/orders/big.csv": "order_id,amount\n" + lines})
    extracted, _ = sync(root, "orders")
    assert extracted.row_counts == {"orders": 1000}
    assert query(root, "select count(*), sum(amount - 199000 - order_id) from raw_orders.orders") == [(1000, 0)]


def test_latest_timestamp_wins_when_configured(tmp_path):
    root = make_small_project(tmp_path / "p", (
        'version: "1.0"\nsources:\n  - name: orders\n    type: csv\n    primary_key: order_id\n'
        "    csv: {directory: data/orders, timestamp_column: updated_at}\n"), {
        "data/orders/a.csv": "order_id,amount,updated_at\n1,10.0,2024-01-03\n1,11.0,2024-01-01\n",
        "data/orders/b.csv": "order_id,amount,updated_at\n1,12.0,2024-01-02\n"})
    sync(root, "orders")
    assert query(root, "select order_id, amount from raw_orders.orders") == [(1, 10.0)]


def test_fail_refuses_the_load_naming_keys_and_files(tmp_path):
    root = project(tmp_path, extra="    on_duplicate_keys: fail\n")

    with pytest.raises(SourceDataError) as info:
        sync(root, "orders")

    assert str(info.value) == (
        "source 'orders': 3 row(s) share a primary key value with another row of this load (order_id = 1: 3 rows "
        "in data/orders/a.csv; order_id = 2: 2 rows in data/orders/a.csv, data/orders/b.csv); nothing from this "
        "load was written (on_duplicate_keys: fail; keep_last keeps the last row of each key instead)")
    assert not (root / "data" / "warehouse.duckdb").exists() or query(
        root, "select count(*) from duckdb_tables() where schema_name = 'raw_orders'") == [(0,)]

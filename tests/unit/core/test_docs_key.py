"""The docs site is regenerated only when what it shows changed: the dbt manifest (its run metadata aside)
or the warehouse's tables and columns. Real DuckDB file."""

from __future__ import annotations

import json

import duckdb

from dango_provider.core.dbt_docs import KEY_FILE, docs_key, published_key


def test_the_key_follows_the_manifest_and_the_columns_not_the_run(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"metadata": {"generated_at": "t1"}, "nodes": {"model.a": {"name": "a"}}}))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        con.execute("create schema marts; create table marts.a (id bigint)")
        first = docs_key(manifest, con)
        manifest.write_text(json.dumps({"metadata": {"generated_at": "t2"}, "nodes": {"model.a": {"name": "a"}}}))
        con.execute("insert into marts.a values (1)")  # new rows: the catalog shows columns, not rows
        assert docs_key(manifest, con) == first
        con.execute("alter table marts.a add column name varchar")
        assert docs_key(manifest, con) != first
        second = docs_key(manifest, con)
        manifest.write_text(json.dumps({"metadata": {}, "nodes": {"model.a": {"name": "a", "description": "x"}}}))
        assert docs_key(manifest, con) != second
    finally:
        con.close()


def test_a_site_without_its_page_or_key_is_not_current(tmp_path):
    assert published_key(tmp_path) is None
    (tmp_path / KEY_FILE).write_text("abc")
    assert published_key(tmp_path) is None  # no index.html: nothing published
    (tmp_path / "index.html").write_text("<html></html>")
    assert published_key(tmp_path) == "abc"

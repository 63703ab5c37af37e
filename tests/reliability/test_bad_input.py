"""Bad input catalogue: each case fails with the right error class, a message naming the file, line
or field, a non-zero exit (CLI) or a failed step, and leaves previously loaded data unchanged."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError, IngestError, SourceDataError
from dango_provider.hooks.duckdb import DuckDBHook
from dango_provider.sources.runner import extract_source, load_source
from tests.conftest import BIN, make_small_project, run

pytestmark = pytest.mark.reliability

GOOD = """\
version: "1.0"
sources:
  - name: orders
    type: csv
    primary_key: order_id
    csv:
      directory: data/orders
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A project with one source already loaded once (3 rows)."""
    root = make_small_project(tmp_path / "project", GOOD,
                              {"data/orders/orders_1.csv": "order_id,amount\n1,10.0\n2,20.0\n3,30.0\n"})
    sync(root)
    return root


def sync(root: Path, warehouse: Path | None = None):
    project = load_project(root)
    source = project.source("orders")
    hook = DuckDBHook(warehouse or project.warehouse_path, lock_timeout=10)
    extracted = extract_source(project, source, hook)
    return load_source(project, source, hook, owner="test", extracted=extracted.__dict__)


def loaded(root: Path, warehouse: Path | None = None):
    con = duckdb.connect(str(warehouse or root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("select order_id, amount from raw_orders.orders order by 1").fetchall()
    finally:
        con.close()


BEFORE = [(1, 10.0), (2, 20.0), (3, 30.0)]


def validate(root: Path) -> subprocess.CompletedProcess:
    return run([str(BIN / "dango"), "validate", str(root)], {}, check=False)


# --- sources.yml ---------------------------------------------------------------------------------

CONFIG_CASES = {
    "malformed_yaml": ("sources:\n  - name: orders\n    type: [csv\n", 4, None, "malformed YAML"),
    "unknown_key": (GOOD + "    colour: blue\n", 8, "sources[0].colour", "unknown key 'colour'; allowed keys here:"),
    "duplicate_names": (GOOD + "  - name: orders\n    type: csv\n    csv: {directory: data/orders}\n", 8,
                        "sources[1].name", "duplicate source name 'orders'"),
    "upper_case_name": (GOOD.replace("name: orders", "name: Orders"), 3, "sources[0].name",
                        "source name 'Orders' is invalid"),
    "hyphen_name": (GOOD.replace("name: orders", "name: shop-orders"), 3, "sources[0].name",
                    "source name 'shop-orders' is invalid"),
    "sql_keyword_name": (GOOD.replace("name: orders", "name: select"), 3, "sources[0].name",
                         "source name 'select' is a reserved SQL word"),
    "quote_in_name": (GOOD.replace("name: orders", "name: \"or'ders\""), 3, "sources[0].name", "is invalid"),
    "path_separator_name": (GOOD.replace("name: orders", "name: a/b"), 3, "sources[0].name",
                            "source name 'a/b' is invalid"),
    "unknown_type": (GOOD.replace("type: csv", "type: ftp"), 4, "sources[0].type",
                     "unknown source type 'ftp'; supported types: csv, local_files, filesystem, rest_api, stripe, github, hubspot, sql_database, postgres, mysql, dlt_native"),
    "missing_type_block": ("sources:\n  - name: orders\n    type: csv\n", 2, "sources[0]",
                           "needs a 'csv:' block"),
    "merge_without_key": (GOOD.replace("    primary_key: order_id\n", "    write_disposition: merge\n"), 3,
                          "sources[0]", "has write_disposition merge but no primary_key"),
    "dotdot_escape": (GOOD.replace("directory: data/orders", "directory: ../outside"), 7,
                      "sources[0].csv.directory", "outside the project directory"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_sources_file(project, case):
    text, line, field, message = CONFIG_CASES[case]
    (project / "sources.yml").write_text(text)
    with pytest.raises(DangoConfigError) as info:
        load_project(project)
    errors = getattr(info.value, "errors", [info.value])
    first = errors[0]
    assert first.file == str(project / "sources.yml")
    assert first.line == line
    assert first.field == field
    assert message in first.message
    proc = validate(project)
    assert proc.returncode == 1
    assert f"{project / 'sources.yml'}:{line}" in proc.stderr
    assert loaded(project) == BEFORE


def test_symlink_escaping_the_project(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "data" / "link").symlink_to(outside)
    (project / "sources.yml").write_text(GOOD.replace("directory: data/orders", "directory: data/link"))
    with pytest.raises(DangoConfigError, match="resolves to '.*outside', outside the project directory"):
        load_project(project)
    assert loaded(project) == BEFORE


# --- data files ----------------------------------------------------------------------------------

def _add(project: Path, name: str, content: bytes) -> Path:
    path = project / "data" / "orders" / name
    path.write_bytes(content)
    return path


DATA_CASES = {
    "empty_file": (b"", "the file is empty (0 bytes)"),
    "header_only": (b"order_id,amount\n", "the file has a header but no data rows"),
    "ragged_long": (b"order_id,amount\n4,40.0\n5,50.0,x\n", ":3: ragged row: expected 2 fields like the header, found 3"),
    "ragged_short": (b"order_id,amount\n4,40.0\n5\n", ":3: ragged row: expected 2 fields like the header, found 1"),
    "wrong_encoding": ("order_id,amount\n4,40.0\n5,caf\u00e9\n".encode("latin-1"), ":3: not utf-8 text"),
    "binary_file": (bytes(range(256)) * 4, "not utf-8 text"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_file(project, case):
    content, message = DATA_CASES[case]
    path = _add(project, "orders_2.csv", content)
    with pytest.raises(SourceDataError) as info:
        sync(project)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert loaded(project) == BEFORE
    path.unlink()  # once the bad file is gone, the next sync works and loads nothing new
    with pytest.raises(Exception, match="none new or changed"):
        sync(project)


def test_missing_directory(project):
    (project / "data" / "orders" / "orders_1.csv").rename(project / "data" / "kept.csv")
    (project / "data" / "orders").rmdir()
    with pytest.raises(SourceDataError, match="sources.orders.csv.directory: directory '.*data/orders' does not exist"):
        sync(project)
    assert loaded(project) == BEFORE


def test_empty_directory(project):
    (project / "data" / "orders" / "orders_1.csv").unlink()
    with pytest.raises(SourceDataError, match="no file matches '\\*.csv' in '.*data/orders'; earlier loads are kept"):
        sync(project)
    assert loaded(project) == BEFORE


def test_changed_header_is_schema_drift(project):
    from dango_provider.core.drift_check import check_drift

    _add(project, "orders_2.csv", b"order_id,total\n4,40.0\n")
    project_obj = load_project(project)
    hook = DuckDBHook(project_obj.warehouse_path)
    extracted = extract_source(project_obj, project_obj.source("orders"), hook)
    con = duckdb.connect(":memory:")
    check_drift(con, "orders", {"orders": {"order_id": "BIGINT", "amount": "DOUBLE"}}, on_additive="evolve",
                on_breaking="block", run_id="r1")
    outcome = check_drift(con, "orders", extracted.source_schema, on_additive="evolve", on_breaking="block",
                          run_id="r2")
    assert outcome.blocked
    assert [(c["column"], c["kind"], c["action"]) for c in outcome.changes] == [
        ("amount", "column_removed", "block"), ("total", "column_added", "evolve")]
    assert loaded(project) == BEFORE  # extract alone writes nothing


def test_zero_byte_warehouse_file(tmp_path):
    root = make_small_project(tmp_path / "p", GOOD, {"data/orders/o.csv": "order_id,amount\n1,1.0\n"})
    (root / "data" / "warehouse.duckdb").write_bytes(b"")
    with pytest.raises(IngestError, match="load into the warehouse failed: .*warehouse.duckdb.*not a valid DuckDB"):
        sync(root)
    assert (root / "data" / "warehouse.duckdb").stat().st_size == 0  # not overwritten behind the user's back


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "small"
    if os.geteuid() != 0 or not _tmpfs(mount, "4m"):
        pytest.skip("needs a size-limited filesystem: mounting a tmpfs requires root (CAP_SYS_ADMIN) here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_during_load_keeps_earlier_data(project, small_fs, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DANGO__ALLOWED_DATA_ROOTS", str(small_fs))  # the warehouse sits outside
    warehouse = small_fs / "warehouse.duckdb"
    (project / "sources.yml").write_text(f"version: '1.0'\nwarehouse: {{path: {warehouse}}}\n" + GOOD.split("\n", 1)[1])
    (project / ".dango" / "state").rename(project / ".dango" / "state_first")  # a fresh start on the small disk
    sync(project, warehouse)
    assert loaded(project, warehouse) == BEFORE
    rows = "".join(f"{i},{i}.5\n" for i in range(4, 400_000))
    _add(project, "orders_2.csv", ("order_id,amount\n" + rows).encode())
    with pytest.raises((IngestError, SourceDataError)) as info:
        sync(project, warehouse)
    assert "No space left" in str(info.value) or "Could not write" in str(info.value) or "disk" in str(info.value).lower()
    assert loaded(project, warehouse) == BEFORE


def test_read_only_warehouse_directory(project, small_fs, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DANGO__ALLOWED_DATA_ROOTS", str(small_fs))
    warehouse = small_fs / "warehouse.duckdb"
    (project / "sources.yml").write_text(f"version: '1.0'\nwarehouse: {{path: {warehouse}}}\n" + GOOD.split("\n", 1)[1])
    (project / ".dango" / "state").rename(project / ".dango" / "state_first")
    sync(project, warehouse)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    _add(project, "orders_2.csv", b"order_id,amount\n4,40.0\n")
    with pytest.raises(Exception) as info:
        sync(project, warehouse)
    assert "Read-only file system" in str(info.value) or "read-only" in str(info.value).lower()
    assert loaded(project, warehouse) == BEFORE

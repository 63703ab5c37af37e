"""Nothing outside the project (or a root the deployment names) is read or written: every path that
sources.yml can name is refused at validate time where it is static, and each matched file is checked
again, symlinks resolved, when a run reads it. Real dlt loads into a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError, IngestError, SourceDataError
from tests.conftest import BIN, make_small_project, run
from tests.ingest import sync

pytestmark = pytest.mark.reliability

SOURCE = """\
version: "1.0"
sources:
  - name: orders
    type: {type}
    primary_key: order_id
    {type}:
{block}
"""


def sources(block: str, type_: str = "csv") -> str:
    return SOURCE.format(type=type_, block="\n".join("      " + line for line in block.splitlines()))


@pytest.fixture
def outside(tmp_path) -> Path:
    """A directory beside the project with a file no source may load."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.csv").write_text("order_id,password\n1,hunter2\n")
    return directory


@pytest.fixture
def project(tmp_path) -> Path:
    return make_small_project(tmp_path / "project", sources("directory: data/orders"),
                              {"data/orders/orders_1.csv": "order_id,amount\n1,10.0\n"})


def raw_tables(root: Path) -> list[str]:
    path = root / "data" / "warehouse.duckdb"
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.sql("select schema_name || '.' || table_name from duckdb_tables() "
                                      "where schema_name like 'raw_%'").fetchall()]
    finally:
        con.close()


def validate(root: Path):
    return run([str(BIN / "dango"), "validate", str(root)], {}, check=False)


STATIC_CASES = {
    # field written, the text, the field path reported, message start
    "pattern_dotdot": ("directory: data/orders\nfile_pattern: '../../../outside/secret*'", "sources[0].csv.file_pattern",
                       "file pattern '../../../outside/secret*' has a '..' part"),
    "pattern_etc_passwd": ("directory: data/orders\nfile_pattern: '../../etc/passw*'", "sources[0].csv.file_pattern",
                           "has a '..' part"),
    "pattern_absolute": ("directory: data/orders\nfile_pattern: '/etc/passw*'", "sources[0].csv.file_pattern",
                         "file pattern '/etc/passw*' is an absolute path"),
    "pattern_home": ("directory: data/orders\nfile_pattern: '~/x.csv'", "sources[0].csv.file_pattern",
                     "is an absolute path"),
    "directory_absolute": ("directory: /etc", "sources[0].csv.directory", "directory '/etc' resolves to '/etc'"),
    "directory_dotdot": ("directory: data/../../outside", "sources[0].csv.directory", "outside the project directory"),
}


@pytest.mark.parametrize("case", sorted(STATIC_CASES))
def test_static_paths_outside_the_project_are_refused(project, outside, case):
    block, field, message = STATIC_CASES[case]
    (project / "sources.yml").write_text(sources(block))

    with pytest.raises(DangoConfigError) as info:
        load_project(project)

    assert (info.value.field, info.value.file) == (field, str(project / "sources.yml"))
    assert info.value.message.startswith(message) or message in info.value.message
    proc = validate(project)
    assert proc.returncode == 1 and field in proc.stderr
    assert "hunter2" not in proc.stderr


@pytest.mark.parametrize("text, field", [
    ("version: '1.0'\nwarehouse: {path: /tmp/elsewhere.duckdb}\nsources: []\n", "warehouse.path"),
    ("version: '1.0'\nwarehouse: {path: ../w.duckdb}\nsources: []\n", "warehouse.path"),
    ("version: '1.0'\ndbt: {project_dir: /etc}\nsources: []\n", "dbt.project_dir"),
    ("version: '1.0'\ndbt: {project_dir: ../other_dbt}\nsources: []\n", "dbt.project_dir"),
])
def test_warehouse_and_dbt_paths_stay_inside(project, text, field):
    (project / "sources.yml").write_text(text)
    with pytest.raises(DangoConfigError) as info:
        load_project(project)
    assert info.value.field == field
    assert "outside the project directory" in info.value.message


@pytest.mark.parametrize("url", ["file:///etc", "/etc", "file://../outside"])
def test_local_bucket_url_stays_inside(project, url):
    (project / "sources.yml").write_text(sources(f"bucket_url: '{url}'\nfile_glob: '*'", "filesystem"))
    with pytest.raises(DangoConfigError) as info:
        load_project(project)
    assert info.value.field == "sources[0].filesystem.bucket_url"
    assert "outside the project directory" in info.value.message


def test_a_symlinked_file_pointing_outside_is_not_read(project, outside):
    (project / "data" / "orders" / "orders_2.csv").symlink_to(outside / "secret.csv")

    with pytest.raises(SourceDataError) as info:
        sync(project, "orders")

    message = str(info.value)
    assert "sources.orders.csv.file_pattern: file" in message
    assert f"resolves to '{(outside / 'secret.csv').resolve()}', outside the project directory" in message
    assert "hunter2" not in message
    assert raw_tables(project) == []  # nothing of the run was loaded, not even the good file


def test_a_symlinked_directory_inside_the_source_directory_is_checked_per_file(project, outside):
    (project / "data" / "orders" / "nested").symlink_to(outside)
    (project / "sources.yml").write_text(sources("directory: data/orders\nfile_pattern: '**/*.csv'"))

    with pytest.raises(SourceDataError, match="outside the project directory"):
        sync(project, "orders")
    assert raw_tables(project) == []


def test_an_allowed_data_root_is_readable(project, outside, monkeypatch):
    (outside / "secret.csv").write_text("order_id,amount\n7,70.0\n")
    (project / "data" / "orders" / "orders_2.csv").symlink_to(outside / "secret.csv")
    monkeypatch.setenv("AIRFLOW__DANGO__ALLOWED_DATA_ROOTS", str(outside))

    extracted, _ = sync(project, "orders")

    assert sorted(extracted.files) == ["data/orders/orders_1.csv", "data/orders/orders_2.csv"]
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("select order_id from raw_orders.orders order by 1").fetchall() == [(1,), (7,)]
    finally:
        con.close()


def test_an_absolute_directory_under_an_allowed_root_loads(project, outside, monkeypatch):
    (outside / "secret.csv").write_text("order_id,amount\n7,70.0\n")
    (project / "sources.yml").write_text(sources(f"directory: {outside}"))
    with pytest.raises(DangoConfigError, match="allowed_data_roots"):
        load_project(project)

    monkeypatch.setenv("AIRFLOW__DANGO__ALLOWED_DATA_ROOTS", f"/nonexistent-root,{outside}")
    extracted, loaded = sync(project, "orders")

    assert loaded.row_counts == {"orders": 1}


def test_a_relative_allowed_root_is_a_configuration_error(project, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DANGO__ALLOWED_DATA_ROOTS", "data/landing")
    with pytest.raises(DangoConfigError, match="allowed_data_roots: 'data/landing' is not an absolute path"):
        load_project(project)


def test_a_dlt_native_module_linked_from_outside_is_not_imported(project, outside):
    (outside / "evil.py").write_text("import dlt\n\n@dlt.resource\ndef rows():\n    yield {'order_id': 1}\n")
    (project / "custom_sources").mkdir()
    (project / "custom_sources" / "evil.py").symlink_to(outside / "evil.py")
    (project / "sources.yml").write_text(
        "version: '1.0'\nsources:\n  - name: feed\n    type: dlt_native\n"
        "    dlt_native: {source_module: evil, source_function: rows}\n")

    with pytest.raises(IngestError) as info:
        sync(project, "feed")

    assert "dlt_native.source_module: module 'evil'" in str(info.value)
    assert f"resolves to '{(outside / 'evil.py').resolve()}', outside the project directory" in str(info.value)
    assert raw_tables(project) == []

"""``filesystem`` sources at an fsspec URL: files in fsspec's in-process ``memory://`` filesystem, read by
dlt's filesystem source into a real DuckDB warehouse."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import fsspec
import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import IngestError, SourceDataError
from dango_provider.sources.interval import Interval
from dango_provider.sources.runner import NothingToLoad
from tests import ingest


@pytest.fixture
def bucket():
    """A fresh directory of the in-process memory filesystem; removed afterwards."""
    fs = fsspec.filesystem("memory")
    path = f"/bucket_{uuid.uuid4().hex[:8]}"
    fs.mkdir(path)
    yield fs, f"memory://{path}"  # memory:///bucket_...: dlt names files by this URL
    fs.rm(path, recursive=True)


def put(fs, url: str, name: str, text: str) -> None:
    fs.pipe(f"{url}/{name}", text.encode())
    time.sleep(0.01)  # distinct modification dates, as on any real store


def make_project(root: Path, block: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yml").write_text(
        'version: "1.0"\n'
        "defaults: {retries: 0}\n"
        "sources:\n"
        "  - name: events\n"
        "    type: filesystem\n"
        f"{extra}"
        f"    filesystem: {block}\n"
    )
    return root


def sync(root: Path, interval: Interval | None = None, full_refresh: bool = False):
    return ingest.sync(root, "events", interval, full_refresh=full_refresh)[0]


rows = ingest.query


def test_only_new_files_are_read_on_the_next_run(tmp_path, bucket):
    fs, url = bucket
    put(fs, url, "2024-03-01.csv", "event_id,kind,amount\n1,view,1.5\n2,click,2.5\n")
    put(fs, url, "2024-03-02.csv", "event_id,kind,amount\n3,view,3.5\n")
    put(fs, url, "notes.txt", "not data\n")
    root = make_project(tmp_path, f"{{bucket_url: '{url}', file_glob: '*.csv'}}")
    project = load_project(root)
    assert not project.source("events").is_file_source

    first = sync(root)
    assert first.row_counts == {"events": 3}
    assert first.source_schema["events"]["amount"] == "double"
    assert rows(root, "select event_id, kind, amount, _dango_file from raw_events.events order by 1") == [
        (1, "view", 1.5, f"{url}/2024-03-01.csv"),
        (2, "click", 2.5, f"{url}/2024-03-01.csv"),
        (3, "view", 3.5, f"{url}/2024-03-02.csv")]

    with pytest.raises(NothingToLoad):  # nothing new: no file is read again
        sync(root)
    put(fs, url, "2024-03-03.csv", "event_id,kind,amount\n4,buy,40.0\n5,view,5.5\n")
    assert sync(root).row_counts == {"events": 2}
    assert rows(root, "select count(*), sum(amount) from raw_events.events") == [(5, 53.0)]

    # a changed file is read again and replaces the rows it loaded before (append)
    put(fs, url, "2024-03-01.csv", "event_id,kind,amount\n1,view,1.5\n2,click,2.5\n6,view,6.5\n")
    assert sync(root).row_counts == {"events": 3}
    assert rows(root, "select count(*), count(distinct event_id) from raw_events.events") == [(6, 6)]


def test_jsonl_and_parquet_files_merge_on_the_primary_key(tmp_path, bucket):
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, url = bucket
    put(fs, url, "a.jsonl", '{"order_id": 1, "status": "placed"}\n{"order_id": 2, "status": "placed"}\n')
    root = make_project(tmp_path, f"{{bucket_url: '{url}', file_glob: '*.jsonl', primary_key: order_id}}")
    assert sync(root).row_counts == {"events": 2}
    put(fs, url, "b.jsonl", '{"order_id": 2, "status": "shipped"}\n{"order_id": 3, "status": "placed"}\n')
    assert sync(root).row_counts == {"events": 2}
    assert rows(root, "select order_id, status from raw_events.events order by 1") == [
        (1, "placed"), (2, "shipped"), (3, "placed")]

    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"order_id": [3, 4], "status": ["paid", "placed"]}), buffer)
    fs.pipe(f"{url}/c.parquet", buffer.getvalue().to_pybytes())
    parquet_root = make_project(tmp_path / "parquet",
                                f"{{bucket_url: '{url}', file_glob: '*.parquet', primary_key: order_id}}")
    assert sync(parquet_root).row_counts == {"events": 2}
    assert rows(parquet_root, "select order_id, status from raw_events.events order by 1") == [
        (3, "paid"), (4, "placed")]


def test_bounded_interval_reads_files_modified_in_it(tmp_path, bucket):
    fs, url = bucket
    put(fs, url, "a.csv", "n\n1\n2\n")
    root = make_project(tmp_path, f"{{bucket_url: '{url}', file_glob: '*.csv'}}")
    modified = fs.info(f"{url}/a.csv")["created"]
    before = Interval(modified - timedelta(days=2), modified - timedelta(days=1))
    with pytest.raises(NothingToLoad):
        sync(root, before)
    around = Interval(modified - timedelta(hours=1), modified + timedelta(hours=1))
    assert sync(root, around).row_counts == {"events": 2}
    assert sync(root, around).row_counts == {"events": 2}  # a re-run reads the interval again, idempotently
    assert rows(root, "select count(*) from raw_events.events") == [(2,)]
    # the bounded runs left the stored cursor alone: the first unbounded run reads the file
    assert sync(root).row_counts == {"events": 2}
    assert rows(root, "select count(*) from raw_events.events") == [(2,)]


def test_full_refresh_and_replace_read_every_file(tmp_path, bucket):
    fs, url = bucket
    put(fs, url, "a.csv", "n\n1\n")
    put(fs, url, "b.csv", "n\n2\n")
    root = make_project(tmp_path, f"{{bucket_url: '{url}'}}", extra="    write_disposition: replace\n")
    assert sync(root).row_counts == {"events": 2}
    fs.rm(f"{url}/a.csv")
    assert sync(root).row_counts == {"events": 1}
    assert rows(root, "select n from raw_events.events") == [(2,)]

    appended = make_project(tmp_path / "append", f"{{bucket_url: '{url}'}}")
    assert sync(appended).row_counts == {"events": 1}
    put(fs, url, "c.csv", "n\n3\n")
    assert sync(appended, full_refresh=True).row_counts == {"events": 2}
    assert rows(appended, "select n from raw_events.events order by 1") == [(2,), (3,)]


def test_bad_files_fail_naming_the_file(tmp_path, bucket):
    fs, url = bucket
    put(fs, url, "empty.csv", "")
    root = make_project(tmp_path, f"{{bucket_url: '{url}'}}")
    with pytest.raises(SourceDataError, match=f"^source 'events': {url}/empty.csv: the file is empty"):
        sync(root)
    fs.rm(f"{url}/empty.csv")
    put(fs, url, "header.csv", "a,b\n")
    with pytest.raises(SourceDataError, match="header.csv: the file has no data rows"):
        sync(root)
    fs.rm(f"{url}/header.csv")
    put(fs, url, "data.bin", "x")
    with pytest.raises(SourceDataError, match=r"data.bin: cannot tell the file format from the extension '.bin'"):
        sync(root)


def test_unknown_protocol_and_missing_driver_are_named(tmp_path):
    root = make_project(tmp_path, "{bucket_url: 'nosuchfs://bucket/events'}")
    with pytest.raises(IngestError) as info:
        sync(root)
    assert str(info.value).startswith(
        "source 'events': filesystem.bucket_url 'nosuchfs://bucket/events' has the protocol 'nosuchfs', "
        "which no installed fsspec driver provides; known protocols: ")
    assert "memory" in str(info.value)

    import importlib.util

    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here; the error for a missing driver cannot occur")
    root = make_project(tmp_path / "s3", "{bucket_url: 's3://my-bucket/events', file_glob: '*.csv'}")
    with pytest.raises(IngestError, match="^source 'events': filesystem.bucket_url 's3://my-bucket/events' needs the "
                                          "fsspec driver for 's3': install the Python package 's3fs' into the "
                                          "Airflow environment$"):
        sync(root)
    assert not (tmp_path / "s3" / "data" / "warehouse.duckdb").exists()


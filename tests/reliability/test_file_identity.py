"""File identity by content, with real dlt loads into a real DuckDB file: a renamed or copied file is not
new data, and an edit is read even when the file keeps its size and its modification time is put back."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_small_project
from tests.ingest import query, sync

pytestmark = pytest.mark.reliability

SOURCES = """\
version: "1.0"
sources:
  - name: orders
    type: csv
    primary_key: order_id
    write_disposition: {disposition}
    csv: {{directory: data/orders}}
"""
FIRST = "order_id,amount\n1,10.0\n2,20.0\n"


@pytest.fixture(params=["append", "merge", "replace"])
def project(request, tmp_path) -> Path:
    root = make_small_project(tmp_path / "p", SOURCES.format(disposition=request.param),
                              {"data/orders/a.csv": FIRST})
    sync(root, "orders")
    return root


def rows(root: Path) -> list[tuple]:
    return query(root, "select order_id, amount from raw_orders.orders order by 1, 2")


def test_a_renamed_file_is_not_loaded_again(project):
    directory = project / "data" / "orders"
    (directory / "a.csv").rename(directory / "renamed.csv")

    with pytest.raises(Exception, match="1 file\\(s\\), none new or changed"):
        sync(project, "orders")

    assert rows(project) == [(1, 10.0), (2, 20.0)]


def test_a_copy_is_read_once(project):
    directory = project / "data" / "orders"
    shutil.copy2(directory / "a.csv", directory / "copy.csv")

    with pytest.raises(Exception, match="none new or changed"):
        sync(project, "orders")

    assert rows(project) == [(1, 10.0), (2, 20.0)]


def test_a_same_size_edit_with_its_mtime_put_back_is_read(project):
    path = project / "data" / "orders" / "a.csv"
    before = path.stat()
    path.write_text(FIRST.replace("20.0", "29.0"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -t or tar do
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    extracted, _ = sync(project, "orders")

    assert extracted.files == ["data/orders/a.csv"]
    assert rows(project) == [(1, 10.0), (2, 29.0)]  # the file's rows replaced, never doubled


def test_a_touched_file_is_hashed_but_not_reloaded(project):
    path = project / "data" / "orders" / "a.csv"
    os.utime(path, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))

    with pytest.raises(Exception, match="none new or changed"):
        sync(project, "orders")

    assert rows(project) == [(1, 10.0), (2, 20.0)]


def test_new_content_beside_a_rename_loads_only_the_new_rows(project):
    directory = project / "data" / "orders"
    (directory / "a.csv").rename(directory / "old.csv")
    (directory / "b.csv").write_text("order_id,amount\n3,30.0\n")

    extracted, _ = sync(project, "orders")

    # replace reads the whole set again when it changed; the others read only the new content
    assert extracted.files in (["data/orders/b.csv"], ["data/orders/b.csv", "data/orders/old.csv"])
    assert rows(project) == [(1, 10.0), (2, 20.0), (3, 30.0)]


def test_a_file_still_being_written_waits_for_the_next_run(tmp_path, caplog):
    import logging

    root = make_small_project(tmp_path / "s", SOURCES.format(disposition="append").replace(
        "    csv:", "    settle_seconds: 3600\n    csv:"), {"data/orders/a.csv": FIRST})
    old = 1_700_000_000
    os.utime(root / "data" / "orders" / "a.csv", (old, old))  # settled long ago
    sync(root, "orders")
    (root / "data" / "orders" / "b.csv").write_text("order_id,amount\n3,30.0\n")  # just written
    with caplog.at_level(logging.INFO), pytest.raises(Exception) as info:
        sync(root, "orders")
    assert "1 changed within settle_seconds wait for the next run" in str(info.value)
    assert "data/orders/b.csv changed 0." in caplog.text and "it may still be being written" in caplog.text
    os.utime(root / "data" / "orders" / "b.csv", (old, old))  # now settled
    extracted, _ = sync(root, "orders")
    assert extracted.files == ["data/orders/b.csv"]
    assert rows(root) == [(1, 10.0), (2, 20.0), (3, 30.0)]

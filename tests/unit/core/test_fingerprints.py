"""File fingerprints: pending until the load commits them; reset forgets everything."""

from __future__ import annotations

import json
import os

from dango_provider.core.fingerprints import FingerprintStore, content_digest, identify, loaded_digests, stat_key


def test_identity_is_the_content_read_once_per_stat_change(tmp_path):
    path = tmp_path / "orders_1.csv"
    path.write_text("id\n1\n")
    first = identify({"orders_1.csv": path}, {})
    assert first.hashed == 1 and first.hashed_bytes == 5
    entry = first.entries["orders_1.csv"]
    assert entry == {"stat": stat_key(path), "digest": content_digest(path)}

    again = identify({"orders_1.csv": path}, first.entries)  # unchanged: no read

    assert (again.entries, again.hashed) == (first.entries, 0)


def test_an_edit_with_its_mtime_put_back_is_seen(tmp_path):
    path = tmp_path / "orders_1.csv"
    path.write_text("id\n1\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    first = identify({"o.csv": path}, {}).entries

    path.write_text("id\n2\n")  # same size
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # as cp -p / rsync -t do
    after = identify({"o.csv": path}, first)

    assert after.hashed == 1  # the inode change time moved: read again
    assert after.entries["o.csv"]["digest"] != first["o.csv"]["digest"]


def test_a_touch_or_a_rename_keeps_the_digest(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id\n1\n")
    first = identify({"a.csv": path}, {}).entries
    os.utime(path, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    renamed = path.rename(tmp_path / "b.csv")

    after = identify({"b.csv": renamed}, first).entries

    assert after["b.csv"]["digest"] == first["a.csv"]["digest"]
    assert loaded_digests(first) == {first["a.csv"]["digest"]: "a.csv"}


def test_pending_becomes_committed_only_on_commit(tmp_path):
    store = FingerprintStore(tmp_path / "state" / "sources" / "orders")
    assert store.committed() == {}

    store.write_pending({"data/orders_1.csv": "5:1", "data/orders_2.csv": "7:2"})

    assert store.committed() == {}
    assert json.loads(store.pending_path.read_text()) == {"data/orders_1.csv": "5:1", "data/orders_2.csv": "7:2"}

    store.commit_pending()

    assert store.committed() == {"data/orders_1.csv": "5:1", "data/orders_2.csv": "7:2"}
    assert not store.pending_path.exists()
    assert store.committed_path == tmp_path / "state" / "sources" / "orders" / "fingerprints.json"


def test_commit_without_pending_keeps_committed(tmp_path):
    store = FingerprintStore(tmp_path)
    store.write_pending({"a.csv": "1:1"})
    store.commit_pending()

    store.commit_pending()

    assert store.committed() == {"a.csv": "1:1"}


def test_discarded_pending_is_never_committed(tmp_path):
    store = FingerprintStore(tmp_path)
    store.write_pending({"a.csv": "1:1"})
    store.commit_pending()
    store.write_pending({"a.csv": "2:2", "b.csv": "3:3"})  # extract of a load that then fails

    store.discard_pending()
    store.commit_pending()

    assert store.committed() == {"a.csv": "1:1"}
    assert not store.pending_path.exists()


def test_new_pending_replaces_old_pending(tmp_path):
    store = FingerprintStore(tmp_path)
    store.write_pending({"a.csv": "1:1"})
    store.write_pending({"b.csv": "2:2"})
    store.commit_pending()

    assert store.committed() == {"b.csv": "2:2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fingerprints.json"]

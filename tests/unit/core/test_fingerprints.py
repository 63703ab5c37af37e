"""File fingerprints: pending until the load commits them; reset forgets everything."""

from __future__ import annotations

import json
import os

from dango_provider.core.fingerprints import FingerprintStore, fingerprint


def test_fingerprint_is_size_and_mtime(tmp_path):
    path = tmp_path / "orders_1.csv"
    path.write_text("id\n1\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))

    assert fingerprint(path) == "5:1700000000123456789"


def test_fingerprint_changes_with_content_or_mtime(tmp_path):
    path = tmp_path / "orders_1.csv"
    path.write_text("id\n1\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    first = fingerprint(path)

    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_001_000_000_000))
    touched = fingerprint(path)
    path.write_text("id\n2\n")  # same size, new mtime
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_001_000_000_000))
    same_size_same_mtime = fingerprint(path)
    path.write_text("id\n1\n2\n")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_001_000_000_000))
    grown = fingerprint(path)

    assert first != touched
    assert same_size_same_mtime == touched  # a stat, never a read: same size and mtime look unchanged
    assert grown not in (first, touched)


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

"""The manifest the dbt tasks read: parsed once per version of the file, {} when there is none."""

from __future__ import annotations

import json
import os

from dango_provider.core.dbt_cli import read_manifest


def test_a_manifest_is_parsed_again_when_the_file_changes(tmp_path):
    assert read_manifest(tmp_path) == {}
    path = tmp_path / "target" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"nodes": {"model.p.a": {}}}))
    first = read_manifest(tmp_path)
    assert list(first["nodes"]) == ["model.p.a"] and read_manifest(tmp_path) is first
    path.write_text(json.dumps({"nodes": {"model.p.a": {}, "model.p.b": {}}}))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert list(read_manifest(tmp_path)["nodes"]) == ["model.p.a", "model.p.b"]
    path.write_text("{not json")
    assert read_manifest(tmp_path) == {}

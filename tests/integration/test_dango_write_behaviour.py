"""A Dango project's file sources follow the files on disk, as Dango's sync does: a deleted file's rows go,
a changed file's rows are replaced. The same entry in our own sources.yml keeps its documented meaning
(new and changed files appended or merged). Real dlt pipelines into a real DuckDB file."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests import ingest

FIXTURE = Path(__file__).resolve().parents[1] / "dango_compat" / "fixtures" / "csv__defaults.yml"


def project(root: Path, *, dango_layout: bool) -> Path:
    sources = root / ".dango" / "sources.yml" if dango_layout else root / "sources.yml"
    sources.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, sources)  # Dango's wizard file: my_csv reads data/uploads/*.csv
    uploads = root / "data" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "jan.csv").write_text("id,amount\n1,10\n2,20\n")
    (uploads / "feb.csv").write_text("id,amount\n3,30\n")
    return root


def ids(root: Path) -> list[int]:
    return [r[0] for r in ingest.query(root, "select id from raw_my_csv.my_csv order by id")]


def test_a_dango_projects_csv_source_follows_the_files(tmp_path):
    root = project(tmp_path / "dango", dango_layout=True)
    ingest.sync(root, "my_csv")
    assert ids(root) == [1, 2, 3]

    (root / "data" / "uploads" / "jan.csv").unlink()
    ingest.sync(root, "my_csv")
    assert ids(root) == [3]  # Dango replaces: the deleted file's rows are gone

    (root / "data" / "uploads" / "feb.csv").write_text("id,amount\n4,40\n")
    ingest.sync(root, "my_csv")
    assert ids(root) == [4]


def test_our_layout_keeps_what_was_loaded(tmp_path):
    root = project(tmp_path / "ours", dango_layout=False)
    ingest.sync(root, "my_csv")
    (root / "data" / "uploads" / "jan.csv").unlink()
    (root / "data" / "uploads" / "mar.csv").write_text("id,amount\n5,50\n")
    ingest.sync(root, "my_csv")
    assert ids(root) == [1, 2, 3, 5]  # append: new files add, nothing loaded before is removed

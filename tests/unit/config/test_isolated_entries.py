"""Loading with ``isolate_sources`` (what the DAG file does): a mistake inside one source entry leaves out
that entry with its errors; mistakes outside the entries still fail the whole file."""

from __future__ import annotations

import pytest

from dango_provider.config.loader import load_project
from dango_provider.exceptions import DangoConfigError
from dango_provider.sources.names import name_problems
from tests.unit.helpers import line_of

TEXT = """\
version: "1.0"
sources:
  - name: good
    type: csv
    csv: {directory: data/good}
  - name: typo
    type: csv
    primary_kye: id
    csv: {directory: data/typo}
  - name: escape
    type: csv
    csv: {directory: ../../etc}
  - name: also_good
    type: csv
    csv: {directory: data/also_good}
  - name: good
    type: csv
    csv: {directory: data/again}
"""


def test_each_bad_entry_is_left_out_with_its_errors(write_sources, project_dir):
    sources_file = write_sources(TEXT)

    project = load_project(project_dir, isolate_sources=True)

    assert [s.name for s in project.config.sources] == ["good", "also_good"]
    left_out = {i.label: [str(e) for e in i.errors] for i in project.invalid_sources}
    assert left_out == {
        "source 'typo'": [f"{sources_file}:{line_of(TEXT, 'primary_kye')}: sources[1].primary_kye: unknown key "
                          "'primary_kye' (did you mean 'primary_key'?); allowed keys here: " + left_out["source 'typo'"][0].split("here: ")[1]],
        "source 'good'": [f"{sources_file}:{line_of(TEXT, '- name: good', 2)}: sources[4].name: duplicate source "
                          "name 'good' (also used by sources[0]); source names must be unique"],
        "source 'escape'": [left_out["source 'escape'"][0]],
    }
    assert left_out["source 'escape'"][0].startswith(
        f"{sources_file}:{line_of(TEXT, '../../etc')}: sources[2].csv.directory: directory '../../etc' resolves to")
    with pytest.raises(DangoConfigError):  # the strict load (dango validate) still fails on all of them
        load_project(project_dir)


def test_a_name_dlt_would_change_is_left_out_by_its_position_in_the_file(write_sources, project_dir):
    text = TEXT.replace("primary_kye: id", "primary_key: id").replace("name: also_good", "name: also__good")
    sources_file = write_sources(text)
    project = load_project(project_dir, isolate_sources=True)

    project = project.leave_out(name_problems(project))

    assert [s.name for s in project.config.sources] == ["good", "typo"]
    errors = [str(e) for i in project.invalid_sources for e in i.errors]
    assert f"{sources_file}:{line_of(text, 'name: also__good')}: sources[3].name: source name 'also__good' would be " \
           "stored by dlt as schema 'raw_also_good'" in "\n".join(errors)


@pytest.mark.parametrize("text, field", [
    ("version: '1.0'\nsources: [\n", None),
    ("version: '1.0'\nwarehouse: {path: /elsewhere/w.duckdb}\nsources: []\n", "warehouse.path"),
    ("version: '1.0'\ncolour: red\nsources: []\n", "colour"),
])
def test_mistakes_outside_the_entries_fail_the_file(write_sources, project_dir, text, field):
    write_sources(text)
    with pytest.raises(DangoConfigError) as info:
        load_project(project_dir, isolate_sources=True)
    assert info.value.field == field

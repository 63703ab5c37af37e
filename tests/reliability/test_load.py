"""Load: a real scheduler runs 10 ingest DAGs at once plus the asset-triggered transform while another
process holds the serving copy open.

Expected: every run succeeds, no "Could not set lock" anywhere, row counts exact, write windows never
overlap. PostgreSQL as metadata database, and SQLite as a second configuration. On PostgreSQL four of
the ten sources are the demo project's (its marts, snapshot and seeds in the transform, values checked
against the CSVs), and the single-slot pool is the one the plugin's listener creates at start-up.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from tests.conftest import make_demo_project, make_small_project
from tests.deployment import Deployment, ingest_and_transform_done, wait_for
from tests.integration.expected import KEYS, demo_expectations

pytestmark = [pytest.mark.reliability, pytest.mark.scheduler, pytest.mark.slow]

SOURCES = 10
ROWS = 2_000

READER = """
import sys, time, duckdb
from pathlib import Path
path = Path(sys.argv[1])
while not path.exists():
    time.sleep(0.2)
con = duckdb.connect(str(path), read_only=True)
print("open", flush=True)
while True:
    con.execute("select count(*) from information_schema.tables").fetchone()
    time.sleep(0.5)
"""


def _synthetic(first: int, count: int) -> tuple[str, dict[str, str]]:
    """Sources s<first>..: their sources.yml entries, their CSV files and a mart counting their rows."""
    names = [f"s{i:02d}" for i in range(first, first + count)]
    entries = "".join(f"  - name: {n}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/{n}}}\n"
                      for n in names)
    files = {f"data/{n}/part.csv": "id,value,label\n" + "".join(f"{r},{r * i},l{r}\n" for r in range(ROWS))
             for i, n in enumerate(names, first)}
    files["dbt/models/marts/source_counts.sql"] = " union all ".join(
        f"select '{n}' as source, count(*) as n from {{{{ ref('stg_{n}__{n}') }}}}" for n in names) + "\n"
    return entries, files


def _project(root, demo: bool) -> tuple[list[str], list[str]]:
    """The project at ``root``: (demo sources, synthetic sources), ten in all."""
    if not demo:
        entries, files = _synthetic(0, SOURCES)
        make_small_project(root, 'version: "1.0"\ndefaults: {retries: 2}\nsources:\n' + entries, files)
        return [], [f"s{i:02d}" for i in range(SOURCES)]
    make_demo_project(root)
    entries, files = _synthetic(len(KEYS), SOURCES - len(KEYS))
    text = (root / "sources.yml").read_text().replace("retries: 0", "retries: 2")
    (root / "sources.yml").write_text(text.rstrip("\n") + "\n" + entries)
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)
    return list(KEYS), [f"s{i:02d}" for i in range(len(KEYS), SOURCES)]


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_ten_sources_and_transform_under_load(tmp_path, database):
    demo, synthetic = _project(tmp_path / "project", demo=database == "postgres")
    project = tmp_path / "project"
    # the reader opens the warehouse copy that the first transform publishes, and keeps it open
    reader = subprocess.Popen([sys.executable, "-c", READER, str(project / "data" / "serving" / "warehouse.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    deployment = Deployment(tmp_path, project, database)
    ingest_ids = [f"dango_ingest__{s}" for s in demo + synthetic]
    assert deployment.query("select count(*) from slot_pool where pool = 'dango_duckdb'") == [(0,)]
    try:
        deployment.start_all()
        pool = wait_for(lambda: deployment.query("select slots from slot_pool where pool = 'dango_duckdb'"),
                        120, "the listener to create pool dango_duckdb")
        assert pool == [(1,)]
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == SOURCES + 1,
                 240, "the DAG processor to parse the DAGs")
        for dag_id in ingest_ids:
            deployment.trigger(dag_id)

        wait_for(ingest_and_transform_done(deployment, ingest_ids), 1200,
                 "all ingest runs and the transform to succeed", interval=5)
        assert reader.poll() is None, "the reader of the serving copy died"
        extract_windows = deployment.query(
            "select start_date, end_date from task_instance where task_id = 'extract' and state = 'success'")
        pool_windows = deployment.query(
            "select start_date, end_date, dag_id, task_id from task_instance "
            "where pool = 'dango_duckdb' and state = 'success' order by start_date")
    finally:
        deployment.stop()
        reader.kill()

    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        counts = dict(con.sql("select source, n from marts.source_counts").fetchall())
        distinct = {s: con.sql(f"select count(distinct id) from raw_{s}.{s}").fetchone()[0] for s in synthetic}
        demo_counts = {s: con.sql(f"select count(*) from raw_{s}.{s}").fetchone()[0] for s in demo}
        clv_rows = con.sql("select count(*) from marts.customer_lifetime_value").fetchone()[0] if demo else None
        windows = con.sql("select started_at, finished_at from dango_meta.load_history order by started_at").fetchall()
    finally:
        con.close()
    assert counts == {s: ROWS for s in synthetic}
    assert distinct == counts
    if demo:
        expected = demo_expectations(project / "include" / "data")["counts"]
        assert demo_counts == expected
        assert clv_rows == expected["customers"]
    assert len(windows) == SOURCES
    for before, after in zip(windows, windows[1:]):
        assert before[1] <= after[0], "write windows overlap"
    # extraction runs outside the pool: extract tasks of different sources ran at the same time ...
    assert len(extract_windows) == SOURCES
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(extract_windows) for b in extract_windows[i + 1:]), \
        "no two extract tasks overlapped: extraction did not run concurrently"
    # ... while every task of the writer pool (loads, drift, PII, dbt, publish) ran alone
    assert len(pool_windows) >= 3 * SOURCES
    for before, after in zip(pool_windows, pool_windows[1:]):
        assert before[1] <= after[0], f"pool tasks overlap: {before[2:]} and {after[2:]}"
    logs = deployment.task_logs()
    assert logs, "no task logs were written"
    assert "Could not set lock" not in logs
    # scheduler, DAG processor, API server, task runners and dbt: nothing reached beyond this machine
    assert deployment.refused_connections() == []

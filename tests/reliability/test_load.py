"""Load: a real scheduler runs 10 ingest DAGs at once plus the asset-triggered transform while another
process holds the serving copy open.

Expected: every run succeeds, no "Could not set lock" anywhere, row counts exact, write windows never
overlap. PostgreSQL as metadata database, and SQLite as a second configuration.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from tests.conftest import make_small_project
from tests.deployment import Deployment, ingest_and_transform_done, wait_for

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


def _project(root):
    sources = "".join(
        f"  - name: s{i:02d}\n    type: csv\n    primary_key: id\n    csv: {{directory: data/s{i:02d}}}\n"
        for i in range(SOURCES))
    files = {f"data/s{i:02d}/part.csv": "id,value,label\n" + "".join(f"{n},{n * i},l{n}\n" for n in range(ROWS))
             for i in range(SOURCES)}
    union = " union all ".join(f"select '{f's{i:02d}'}' as source, count(*) as n from {{{{ ref('stg_s{i:02d}__s{i:02d}') }}}}"
                               for i in range(SOURCES))
    files["dbt/models/marts/source_counts.sql"] = union + "\n"
    return make_small_project(root, 'version: "1.0"\ndefaults: {retries: 2}\nsources:\n' + sources, files)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_ten_sources_and_transform_under_load(tmp_path, database):
    project = _project(tmp_path / "project")
    # the reader opens the warehouse copy that the first transform publishes, and keeps it open
    reader = subprocess.Popen([sys.executable, "-c", READER, str(project / "data" / "serving" / "warehouse.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    deployment = Deployment(tmp_path, project, database)
    ingest_ids = [f"dango_ingest__s{i:02d}" for i in range(SOURCES)]
    try:
        deployment.start_all()
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
        distinct = {f"s{i:02d}": con.sql(f"select count(distinct id) from raw_s{i:02d}.s{i:02d}").fetchone()[0]
                    for i in range(SOURCES)}
        windows = con.sql("select started_at, finished_at from dango_meta.load_history order by started_at").fetchall()
    finally:
        con.close()
    assert counts == {f"s{i:02d}": ROWS for i in range(SOURCES)}
    assert distinct == counts
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
    assert "Could not set lock" not in deployment.task_logs()

"""dango_transform under `airflow dags test` on a small project: one `dbt build` whose results the
rendered node tasks report; a failing dbt test fails the run, through the task of the node it tests."""

from __future__ import annotations

import json
import sqlite3

import pytest

from dango_provider.core.transform_results import recent_runs
from tests import payments
from tests.apiserver import overview_of
from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

@pytest.fixture
def project(tmp_path):
    return make_small_project(tmp_path / "project", payments.SOURCES, payments.FILES)


def test_ingest_emits_the_asset_with_row_counts_and_transform_builds(project, airflow_home):
    env = airflow_env(airflow_home, project)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments"], env)
    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        extras = [json.loads(e) for (e,) in con.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.name = 'raw_payments'")]
    finally:
        con.close()
    assert extras and extras[-1]["row_counts"] == {"payments": 3}
    assert extras[-1]["source"] == "payments"
    built = run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)
    # the mart's own task reported the build's result instead of running dbt again
    assert "built by dbt_build in this run: model payment_totals: success" in built.stdout + built.stderr
    # and the build parsed only what changed since the ingest's parse (same profile and target)
    assert "Partial parse is enabled and the latest partial parse file is" in built.stdout + built.stderr
    assert "Unable to do partial parsing" not in built.stdout + built.stderr

    status = json.loads(run([str(BIN / "dango"), "status", "--project", str(project), "--json"], env).stdout)
    transform = status["transform"]
    assert transform["failures"] == []
    assert transform["counts"]["success"] >= 2  # the staging model and the mart
    nodes = recent_runs(project / ".dango" / "state")[0]["nodes"]
    mart = next(n for n in nodes if n["name"] == "payment_totals")
    assert (mart["resource_type"], mart["status"], mart["task_id"]) == ("model", "success", "dbt_build")
    assert next(n for n in nodes if n["name"] == "stg_payments__payments")["task_id"] == "dbt_build"


def test_failing_dbt_test_fails_the_transform(project, airflow_home):
    env = airflow_env(airflow_home, project)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments"], env)
    (project / "dbt" / "tests" / "no_negative_amounts.sql").write_text(
        "select * from {{ ref('stg_payments__payments') }} where amount < 0\n")
    proc = run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "FAIL 1 no_negative_amounts" in log or "Failure in test no_negative_amounts" in log
    assert "state=failed" in log

    # the failure is recorded with dbt's message and the compiled SQL of the failed test, and status says so
    run_ = recent_runs(project / ".dango" / "state")[0]
    first = run_["nodes"][0]
    assert (first["name"], first["resource_type"], first["status"], first["failures"]) == (
        "no_negative_amounts", "test", "fail", 1)
    assert "where amount < 0" in first["compiled_sql"] and "{{" not in first["compiled_sql"]
    text = run([str(BIN / "dango"), "status", "--project", str(project)], env).stdout
    assert f"transform: last run {run_['run_id']}" in text
    assert "  fail: test no_negative_amounts (dbt_build): Got 1 result, configured to fail if != 0" in text

    # the plugin's Transform section: the failed test first, with dbt's message and its compiled SQL
    overview, page = overview_of(project)
    [last] = overview["transform"]["runs"][:1]
    assert last["run_id"] == run_["run_id"] and last["nodes"][0]["name"] == "no_negative_amounts"
    assert overview["sources"][0]["feeds"] == ["payment_totals"], "lineage from the manifest: source to mart"
    assert '<div class="small feeds">feeds <code>payment_totals</code></div>' in page
    nodes = page[page.index('id="transform-nodes"'):]
    assert nodes.index("no_negative_amounts") < nodes.index("stg_payments__payments")
    assert '<span class="badge failed">fail</span>' in nodes
    assert '<pre class="error-line">Got 1 result, configured to fail if != 0</pre>' in nodes
    assert '<summary class="small">compiled SQL</summary><pre>' in nodes and "where amount &lt; 0" in nodes


def _task_states(airflow_home, run_id: str) -> dict[str, str]:
    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        return dict(con.execute("select task_id, state from task_instance where dag_id = 'dango_transform' "
                                "and run_id = ?", (run_id,)).fetchall())
    finally:
        con.close()


def test_a_failing_test_of_a_mart_fails_the_marts_own_task(project, airflow_home):
    """The one build runs every node; the failure of a test on a mart is reported by the mart's task
    (dbt's message in its log), not by the build, and nothing is published."""
    env = airflow_env(airflow_home, project)
    (project / "dbt" / "tests" / "totals_reach_100.sql").write_text(
        "select * from {{ ref('payment_totals') }} where total < 100\n")
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__payments"], env)
    proc = run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    run_id = recent_runs(project / ".dango" / "state")[0]["run_id"]
    states = _task_states(airflow_home, run_id)
    assert states["dbt_build"] == "success", "the build answers only for failures no task of its own reports"
    assert states["dbt.payment_totals_model_build"] == "failed"
    # the build publishes before the node tasks report: not while a node failed, saying why; Metabase's
    # refresh and the docs follow the node tasks, so they wait for the failed one to be cleared
    assert states["refresh_metabase"] == "upstream_failed" and states["dbt_docs"] == "upstream_failed"
    assert ("not published: 1 node(s) of this run failed or were skipped after a failure "
            "(test totals_reach_100: fail)") in log
    assert not (project / "data" / "serving" / "warehouse.duckdb").exists()
    assert "1 node(s) failed; their own tasks fail with dbt's message: test." in log and ".totals_reach_100" in log
    assert "test totals_reach_100: fail" in log and "Got 1 result, configured to fail if != 0" in log


def test_stale_loaded_at_field_fails_dbt_source_freshness(tmp_path, airflow_home):
    root = make_small_project(
        tmp_path / "stale",
        'version: "1.0"\ndefaults: {retries: 0}\nsources:\n  - name: events\n    type: csv\n'
        "    freshness: {warn_after: 12h, error_after: 1d, loaded_at_field: happened_at}\n"
        "    csv: {directory: data/events}\n",
        {"data/events/e.csv": "event_id,happened_at\n1,2020-01-01 10:00:00\n"},
    )
    env = airflow_env(airflow_home, root)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__events"], env)
    sources = (root / "dbt" / "models" / "staging" / "events" / "_events__sources.yml").read_text()
    assert "loaded_at_field: happened_at" in sources and "period: day" in sources
    proc = run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ERROR STALE freshness of raw_events.events" in log

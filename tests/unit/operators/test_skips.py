"""Which tasks a task that found nothing to do skips with itself."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from dango_provider.operators.skips import tasks_skipped_with


def test_skips_the_all_success_chain_and_leaves_the_rest_to_the_scheduler():
    with DAG("skips"):
        first, second, third, joined, other = (EmptyOperator(task_id=name) for name in
                                               ("first", "second", "third", "joined", "other"))
        runs_anyway = EmptyOperator(task_id="runs_anyway", trigger_rule="all_done")
        after_it = EmptyOperator(task_id="after_it")
        first >> second >> third
        second >> joined
        other >> joined  # another upstream, which may fail: left to the scheduler
        first >> runs_anyway >> after_it
    assert tasks_skipped_with(first) == ["second", "third"]
    assert tasks_skipped_with(third) == []


def test_an_ingest_extract_skips_every_task_after_it(tmp_path):
    from dango_provider.config.loader import load_project
    from dango_provider.dag_builder.build import build_dags
    from dango_provider.scaffold.init import init_project

    init_project(tmp_path / "p", demo=True)
    project = load_project(tmp_path / "p")
    dag = next(dag for dag_id, dag in build_dags(project).items() if dag_id.startswith("dango_ingest__"))
    assert tasks_skipped_with(dag.get_task("extract")) == ["generate_staging", "load", "pii_scan", "schema_drift"]

"""Triggering an ingest DAG in the Airflow this process points at (its metadata database), refused when
nothing would run it: the DAG unparsed or stale, paused, or no scheduler heartbeat. Shared by
``dango run`` and the overview's Re-run and Full refresh buttons."""

from __future__ import annotations

from dango_provider.exceptions import DangoError


def check_runnable(dag_id: str, session) -> None:
    """Refuse what would leave the run queued forever, naming what to do instead."""
    from airflow.jobs.job import most_recent_job
    from airflow.models.dag import DagModel

    dag = session.get(DagModel, dag_id)
    if dag is None or dag.is_stale:
        raise DangoError(f"DAG {dag_id} is not in Airflow's metadata database: the DAG processor has not parsed it "
                         "yet, or the DAG file fails to import (see: airflow dags list-import-errors)")
    if dag.is_paused:
        raise DangoError(f"DAG {dag_id} is paused; unpause it (airflow dags unpause {dag_id}, or in the UI) "
                         "and run again")
    scheduler = most_recent_job("SchedulerJob", session=session)
    if scheduler is None or not scheduler.is_alive():
        raise DangoError("no scheduler is running for this Airflow (no recent heartbeat in its metadata "
                         f"database): start `airflow scheduler`, or run the DAG in this process with "
                         f"`airflow dags test {dag_id}`")


def trigger_runnable(dag_id: str, conf: dict, *, user: str, triggered_by) -> str:
    """The id of a new run of ``dag_id`` with ``conf``, after :func:`check_runnable`."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.session import create_session

    with create_session() as session:
        check_runnable(dag_id, session)
        run = trigger_dag(dag_id, triggered_by=triggered_by, conf=conf, triggering_user_name=user, session=session)
        if run is None:
            raise DangoError(f"Airflow created no run of {dag_id}")
        return run.run_id

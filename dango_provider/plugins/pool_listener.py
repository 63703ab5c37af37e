"""Listener that creates the writer pool when an Airflow component with database access starts.

A task whose pool does not exist stays ``scheduled`` forever, so the scheduler (and the DAG
processor and triggerer) make sure the pool exists before they do anything else. An existing pool
is left as the operator configured it.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

POOL_DESCRIPTION = "dango-provider: serializes writes to the DuckDB warehouse (one writer at a time)"


def ensure_pool(name: str, slots: int) -> bool:
    """Create pool ``name`` with ``slots`` unless it exists. True when it was created."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy.exc import IntegrityError

    try:
        with create_session() as session:
            if Pool.get_pool(name, session=session) is not None:
                return False
            Pool.create_or_update_pool(name, slots, POOL_DESCRIPTION, include_deferred=False, session=session)
    except IntegrityError:
        # the scheduler and the DAG processor start together: the other one created it in between
        with create_session() as session:
            if Pool.get_pool(name, session=session) is not None:
                return False
        raise
    return True


@hookimpl
def on_starting(component) -> None:
    # Only jobs (scheduler, DAG processor, triggerer) run with database access; task processes do not.
    from airflow.jobs.job import Job

    if not isinstance(component, Job):
        return
    from dango_provider.settings import load_settings

    settings = load_settings()
    try:
        if ensure_pool(settings.pool, settings.pool_slots):
            log.info("created pool '%s' with %d slot(s)", settings.pool, settings.pool_slots)
    except Exception:  # a listener must not stop the component; the task would then wait visibly
        log.exception("could not create pool '%s'", settings.pool)

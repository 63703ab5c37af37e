"""Skip the rest of a run from the task that found nothing to do, instead of one scheduler loop per task."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context


def tasks_skipped_with(task: BaseOperator) -> list[str]:
    """The tasks after ``task`` that Airflow would skip once ``task`` is skipped, whatever else happens
    in the run: those with the default ``all_success`` rule whose every upstream task is ``task`` or
    another such task. A task with another rule (``all_done``, ``none_failed``...) or with an upstream
    outside the chain (which may fail: Airflow would then say ``upstream_failed``) is left to the
    scheduler, and so is what follows it."""
    chain = {task.task_id}
    grew = True
    while grew:
        grew = False
        for node in task.get_flat_relatives(upstream=False):
            if (node.task_id not in chain and node.trigger_rule == "all_success"
                    and node.upstream_task_ids <= chain):
                chain.add(node.task_id)
                grew = True
    return sorted(chain - {task.task_id})


def skip_downstream_now(task: BaseOperator, context: Context) -> list[str]:
    """Mark :func:`tasks_skipped_with` skipped in this run now, before ``task`` reports its own skip.

    The scheduler marks the downstream of a skipped task one level per scheduling loop (about a second
    each on this machine's default ``scheduler_idle_sleep_time``): four tasks after a no-op extract
    made an unchanged re-sync take 3-4 s of waiting. This is the request Airflow's own ``SkipMixin.skip``
    (ShortCircuitOperator) sends, which the execution API applies only to tasks not yet running or
    finished; ``SkipMixin.skip`` would mark ``task`` itself a success, and a task that found nothing to
    do skips here."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import SkipDownstreamTasks

    ids = tasks_skipped_with(task)
    if ids and context["ti"].map_index == -1:
        task_runner.SUPERVISOR_COMMS.send(SkipDownstreamTasks(tasks=ids))
    return ids

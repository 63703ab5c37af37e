"""``SchemaDriftSensor``: hold the transform while a breaking schema change waits for acceptance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence

from airflow.sdk import BaseSensorOperator

from dango_provider.core.governance_state import blocked_sources, describe_changes
from dango_provider.exceptions import SchemaDriftError
from dango_provider.triggers.schema_drift import SchemaDriftTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class SchemaDriftSensor(BaseSensorOperator):
    """Wait until no source of the project is blocked by schema drift; fail listing the changes on timeout.

    A source is blocked when its last load brought a change whose policy is ``block``; ``dango drift
    accept <source>`` releases it. Reads state files only, so it never holds the warehouse, and it
    must not run in the writer pool (a waiting task there would deadlock the DAG).

    :param project_dir: the dango project directory (templated)
    :param deferrable: hand the waiting to the triggerer (default True)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#fadbd8"

    def __init__(self, *, project_dir: str, deferrable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.deferrable = deferrable

    def _state_dirs(self) -> dict[str, Any]:
        from dango_provider.config.loader import load_project
        from dango_provider.sources.pipeline import source_state_dir

        project = load_project(self.project_dir)
        return {s.name: source_state_dir(project, s) for s in project.enabled_sources}

    def poke(self, context: Context) -> bool:
        blocked = blocked_sources(self._state_dirs())
        for source, changes in blocked.items():
            self.log.warning("source '%s' is blocked by schema drift: %s", source, describe_changes(changes))
        if not blocked:
            self.log.info("no source is blocked by schema drift")
        return not blocked

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        deadline = datetime.now(timezone.utc) + timedelta(seconds=self.timeout)
        self.defer(
            trigger=SchemaDriftTrigger(
                state_dirs={k: str(v) for k, v in self._state_dirs().items()},
                deadline=deadline.isoformat(),
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") == "released":
            self.log.info("no source is blocked by schema drift any more")
            return
        blocked = event.get("blocked") or {}
        raise SchemaDriftError(
            "breaking schema changes were not accepted in time ("
            + "; ".join(f"source '{s}': {describe_changes(c)}" for s, c in blocked.items())
            + "); accept them with `dango drift accept <source>` and run the transform again"
        )


"""``SchemaDriftSensor``: hold the transform while a breaking schema change waits for acceptance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dango_provider.core.governance_state import acceptances_since, blocked_sources, describe_changes
from dango_provider.exceptions import SchemaDriftError
from dango_provider.sensors.base import StateSensor
from dango_provider.triggers.schema_drift import SchemaDriftTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class SchemaDriftSensor(StateSensor):
    """Wait until no source of the project is blocked by schema drift; fail listing the changes on timeout.

    A source is blocked when its last load brought a change whose policy is ``block``; ``dango drift
    accept <source>`` releases it. Reads state files only, so it never holds the warehouse, and it
    must not run in the writer pool (a waiting task there would deadlock the DAG).

    :param project_dir: the dango project directory (templated)
    """

    ui_color = "#fadbd8"

    def poke(self, context: Context) -> bool:
        blocked = blocked_sources(self.state_dirs())
        for source, changes in blocked.items():
            self.log.warning("source '%s' is blocked by schema drift: %s", source, describe_changes(changes))
        if not blocked:
            self.log.info("no source is blocked by schema drift")
            self._log_acceptances(context)
        return not blocked

    def _log_acceptances(self, context: Context) -> None:
        """Who accepted which schema changes since the last successful run of this DAG (the audit trail)."""
        since = context.get("prev_start_date_success")
        for source, record in acceptances_since(self.state_dirs(), since).items():
            self.log.info("source '%s': schema changes accepted by %s at %s: %s", source, record["accepted_by"],
                          record["accepted_at"], describe_changes(record["changes"]))

    def trigger(self, deadline: str) -> SchemaDriftTrigger:
        return SchemaDriftTrigger(state_dirs={k: str(v) for k, v in self.state_dirs().items()},
                                  deadline=deadline, poll_interval=self.poke_interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") == "released":
            self.log.info("no source is blocked by schema drift any more")
            self._log_acceptances(context)
            return
        blocked = event.get("blocked") or {}
        raise SchemaDriftError(
            "breaking schema changes were not accepted in time ("
            + "; ".join(f"source '{s}': {describe_changes(c)}" for s, c in blocked.items())
            + "); accept them with `dango drift accept <source>` and run the transform again"
        )


"""Schema drift check after a load: record changes, evolve or block by policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dango_provider.operators.project import SourceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class SchemaDriftCheckOperator(SourceOperator):
    """Compare the schema the source delivered with the accepted baseline in ``dango_meta``.

    Additive and breaking changes are recorded and handled by the source's ``schema_drift`` policy
    (defaults: additive evolve, breaking block). A blocked source keeps ``dango_transform`` waiting in
    its ``SchemaDriftSensor`` until ``dango drift accept <source>``. Runs in the writer pool.
    """

    ui_color = "#f9e79f"

    def execute(self, context: Context) -> dict:
        from dango_provider.config.model import effective_drift_policy
        from dango_provider.core.drift_check import check_drift
        from dango_provider.core.governance_state import block_for_drift
        from dango_provider.core.naming import Naming
        from dango_provider.sources.pipeline import source_state_dir

        project, source = self.project, self.source
        ti = context["ti"]
        source_schema = (ti.xcom_pull(task_ids="extract") or {}).get("source_schema") or {}
        on_additive, on_breaking = effective_drift_policy(project.config.defaults, source)
        with self.warehouse.write_lock(self.lock_owner(context)):
            outcome = self.warehouse.transaction(
                lambda con: check_drift(con, source.name, source_schema, on_additive=on_additive,
                                        on_breaking=on_breaking, run_id=context["run_id"],
                                        journal=Naming.governance_journal(project.root)))
        if outcome.first_load:
            self.log.info("source '%s': first load, schema baseline recorded", source.name)
        for change in outcome.changes:
            log = self.log.warning if change["action"] in ("warn", "block") else self.log.info
            log("schema drift (%s, %s -> %s): %s", change["change_class"], change["kind"], change["action"],
                change["detail"])
        if outcome.blocked:
            block_for_drift(source_state_dir(project, source),
                            [c for c in outcome.changes if c["action"] == "block"], outcome.pending_schema)
            self.log.warning("source '%s' is blocked: dango_transform waits until `dango drift accept %s`",
                             source.name, source.name)
            from dango_provider.core.governance_state import describe_changes
            from dango_provider.hooks.alerts import send_alerts

            send_alerts(project, source, "drift_block",
                        describe_changes([c for c in outcome.changes if c["action"] == "block"])
                        + f"; the transform waits until `dango drift accept {source.name}`", context, self.log)
        return {"changes": outcome.changes, "blocked": outcome.blocked}

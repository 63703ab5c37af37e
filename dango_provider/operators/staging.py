"""Generate the staging models of a source from its loaded schema, then refresh the dbt manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dango_provider.operators.project import SourceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

# dlt data types as DuckDB spells them in model YAML
class GenerateStagingOperator(SourceOperator):
    """Write ``stg_<source>__<table>`` models for the source's raw tables and refresh the manifest.

    Files a person took over (marker line removed) are left alone. Writes only dbt project files and
    never opens the warehouse, so it needs no pool slot; a lock on the dbt project keeps two sources
    from writing the manifest at once. Emits the raw Asset event with the loaded row counts.
    """

    ui_color = "#eaf2f8"

    def _freshness(self) -> dict | None:
        from dango_provider.config.model import effective_freshness, loaded_at_field

        field = loaded_at_field(self.source)
        if not field:
            return None
        warn, error = effective_freshness(self.project.config.defaults, self.source)
        return {"loaded_at_field": field, "warn_after": warn and warn.total_seconds(),
                "error_after": error and error.total_seconds()}

    def _masks(self, table: str, columns: list[str]) -> dict[str, str]:
        """Column -> masking SQL for columns classified as PII when the source's PII policy is mask."""
        from dango_provider.config.model import effective_pii_policy
        from dango_provider.core.governance_state import read_pii
        from dango_provider.core.naming import quote_identifier
        from dango_provider.core.pii import mask_expression
        from dango_provider.sources.pipeline import source_state_dir

        policy = effective_pii_policy(self.project.config.defaults, self.source)
        if policy.policy != "mask":
            return {}
        scanned = read_pii(source_state_dir(self.project, self.source))["scanned"]
        masks = {}
        for column in columns:
            entity = policy.columns[column] if column in policy.columns else scanned.get(f"{table}.{column}")
            if entity:
                masks[column] = mask_expression(quote_identifier(column), entity, policy.methods.get(entity, "hash"))
        return masks

    def execute(self, context: Context) -> dict[str, Any]:
        from dango_provider.core.dbt_cli import manifest_is_stale, refresh_manifest, run_dbt_in_process
        from dango_provider.core.governance_state import clear_failure, is_ready, mark_ready
        from dango_provider.core.lock import warehouse_lock
        from dango_provider.core.staging import RawTable, staging_files, write_staging
        from dango_provider.core.transform_scope import write_placeholders
        from dango_provider.exceptions import DbtRunError
        from dango_provider.sources import files
        from dango_provider.sources.pipeline import DUCKDB_TYPES, pipeline_for, source_state_dir

        project, source = self.project, self.source
        schema = pipeline_for(project, source, destination=self.warehouse.dlt_destination()).default_schema
        tables = []
        for table in schema.data_tables():
            name = table["name"]
            columns = [(c["name"], DUCKDB_TYPES.get(c.get("data_type", "text"), "varchar"))
                       for c in table["columns"].values()]
            # the key dlt merged on (set per resource by the source), else the source's own key
            key = [c["name"] for c in table["columns"].values() if c.get("primary_key")] or (
                [files.column_namer(schema.naming.normalize_identifier)(k) for k in files.primary_key(source)]
                if source.is_file_source else [])
            tables.append(RawTable(source=source.name, table=name, columns=columns, primary_key=key,
                                   masks=self._masks(name, [c for c, _ in columns])))
        dbt_dir = project.dbt_dir
        owner = f"{context['ti'].dag_id}.{context['ti'].task_id}"
        with warehouse_lock(dbt_dir / ".dango-project.lock", timeout=self.warehouse.lock_timeout, owner=owner):
            written = write_staging(dbt_dir, source.name, tables, source.description, self._freshness())
            # stand-ins for what the project references of sources that have not loaded, so that it parses
            written += write_placeholders(dbt_dir, [s.name for s in project.enabled_sources if s.name != source.name
                                                    and not is_ready(source_state_dir(project, s))])
            for path in written:
                self.log.info("generated %s", path.relative_to(project.root) if path.is_relative_to(project.root) else path)
            # also when an earlier attempt wrote the files but was killed before the manifest refresh
            if written or manifest_is_stale(dbt_dir, staging_files(dbt_dir, source.name)):
                try:
                    refresh_manifest(dbt_dir, self.warehouse.dbt_process_env(), project.config.dbt.target,
                                     run=run_dbt_in_process)
                    self.log.info("dbt manifest refreshed")
                except DbtRunError as exc:
                    # The project may reference sources that have not loaded yet. The load itself
                    # succeeded; dango_transform builds the project and fails there if it is broken.
                    self.log.warning("dbt project does not parse yet; keeping the previous manifest: %s", exc)
        loaded = context["ti"].xcom_pull(task_ids="load") or {}
        clear_failure(source_state_dir(project, source))
        mark_ready(source_state_dir(project, source), {"models": [t.model for t in tables],
                                                       "load_ids": loaded.get("load_ids", []),
                                                       "loaded_at": loaded.get("finished_at")})
        drift = context["ti"].xcom_pull(task_ids="schema_drift") or {}
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "source": source.name,
                "row_counts": loaded.get("row_counts", {}),
                "load_ids": loaded.get("load_ids", []),
                "schema_changes": [{k: c.get(k) for k in ("table", "column", "kind", "change_class", "action")}
                                   for c in drift.get("changes", [])],
                "blocked_by_schema_drift": bool(drift.get("blocked")),
            }
        return {"models": [t.model for t in tables], "written": [p.name for p in written]}

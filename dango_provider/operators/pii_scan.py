"""PII scan after a load: classify new text columns with Presidio and record findings (never values)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from dango_provider.operators.project import SourceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "JSON")


class PIIScanOperator(SourceOperator):
    """Scan the source's text columns not scanned before for personal data.

    Samples distinct values (``pii.sample_size``) under the warehouse lock, classifies each column with
    Presidio (value evidence plus column-name evidence), records findings in ``dango_meta.pii_findings``
    and in provider state, where staging generation reads them to mask columns when the policy is
    ``mask``. With policy ``block`` a finding fails the task before the transform sees the data.
    """

    ui_color = "#e8daef"

    def _enforce_block(self, policy, state: dict) -> None:
        """With policy ``block``, fail without retry while any column recorded as personal data (in this run
        or an earlier one) is not marked as not PII: the decision is taken from the recorded findings, so
        neither a retry nor a later load that finds nothing new lets the column through."""
        from airflow.sdk.exceptions import AirflowFailException

        from dango_provider.exceptions import PIIPolicyError

        if policy.policy != "block":
            return
        blocked = []
        for key, entity in sorted(state["scanned"].items()):
            column = key.partition(".")[2]
            entity = policy.columns[column] if column in policy.columns else entity
            if entity:
                blocked.append(f"{key} ({entity})")
        if blocked:
            error = PIIPolicyError(
                f"source '{self.source.name}': personal data found and the PII policy is block: "
                + ", ".join(blocked)
                + "; mark columns as not PII under pii.columns in sources.yml, or use policy mask")
            raise AirflowFailException(str(error)) from error

    def execute(self, context: Context) -> dict:
        from dango_provider.config.model import effective_pii_policy
        from dango_provider.core import governance_meta as meta
        from dango_provider.core.governance_state import read_pii, write_pii
        from dango_provider.core.naming import Naming
        from dango_provider.core.pii import build_analyzer, scan_table
        from dango_provider.sources.pipeline import source_state_dir

        project, source = self.project, self.source
        ti = context["ti"]
        policy = effective_pii_policy(project.config.defaults, source)
        state_dir = source_state_dir(project, source)
        state = read_pii(state_dir)
        source_schema = (ti.xcom_pull(task_ids="extract") or {}).get("source_schema") or {}
        # a column whose type changed is scanned again
        for change in (ti.xcom_pull(task_ids="schema_drift") or {}).get("changes", []):
            if change.get("kind", "").startswith("type_") and change.get("column"):
                state["scanned"].pop(f"{change['table']}.{change['column']}", None)
        todo = {
            table: [c for c, t in cols.items() if t.upper().startswith(TEXT_TYPES) and f"{table}.{c}" not in state["scanned"]]
            for table, cols in source_schema.items()
        }
        todo = {t: cols for t, cols in todo.items() if cols}
        if not todo:
            self.log.info("PII scan: no new text column to scan")
            self._enforce_block(policy, state)
            return {"findings": [], "policy": policy.policy}
        owner = self.lock_owner(context)
        with self.warehouse.write_lock(owner):
            con = self.warehouse.connect()
            try:
                samples = {t: {c: meta.sample_distinct(con, source.name, t, c, policy.sample_size) for c in cols}
                           for t, cols in todo.items()}
            finally:
                con.close()
        analyzer, ner = build_analyzer(policy.nlp_model)
        findings = []
        for table, columns in samples.items():
            for finding in scan_table(analyzer, columns, overrides=policy.columns, ner_available=ner):
                findings.append({"table": table, **asdict(finding), "action": policy.policy})
            for column in columns:
                state["scanned"][f"{table}.{column}"] = next(
                    (f["entity"] for f in findings if f["table"] == table and f["column"] == column), None)
        def record(con) -> None:
            journal = Naming.governance_journal(project.root)
            meta.ensure(con, journal)
            meta.record_pii(con, source.name, findings, context["run_id"])
            meta.save_journal(con, journal)

        with self.warehouse.write_lock(owner):
            self.warehouse.transaction(record)
        write_pii(state_dir, state)
        for f in findings:
            self.log.warning("PII: %s.%s looks like %s (share %.2f of %d sampled values, score %.2f, %s): %s",
                             f["table"], f["column"], f["entity"], f["share"], f["sample_size"], f["score"],
                             f["evidence"], f["action"])
        self.log.info("PII scan: %d column(s) scanned, %d finding(s), NER %s", sum(map(len, samples.values())),
                      len(findings), "on" if ner else "off (patterns only)")
        self._enforce_block(policy, state)
        return {"findings": [{k: f[k] for k in ("table", "column", "entity", "share", "action")} for f in findings],
                "policy": policy.policy}

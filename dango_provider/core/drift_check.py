"""Schema drift check of one load: compare the source's schema with the accepted baseline, apply policy.

Compares what the source delivered in this run (the columns and DuckDB types of the data read), not
the raw table: dlt never drops a raw column and stores a changed type in a variant column, so the
raw table cannot show a removed column or a type change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from dango_provider.core import governance_meta as meta
from dango_provider.core.schema_diff import (
    ColumnSpec,
    Policy,
    TableSchema,
    decide,
    diff_schemas,
    schemas_from_dict,
    schemas_to_dict,
)


@dataclass(frozen=True)
class DriftOutcome:
    first_load: bool
    changes: list[dict]
    blocked: bool
    #: the schema to accept as baseline when a person accepts a blocked change
    pending_schema: dict

    @property
    def breaking(self) -> list[dict]:
        return [c for c in self.changes if c["change_class"] == "breaking"]


def to_schemas(source_schema: dict[str, dict[str, str]]) -> dict[str, TableSchema]:
    return {t: TableSchema(t, {c: ColumnSpec(data_type=ty) for c, ty in cols.items()}) for t, cols in source_schema.items()}


def held_as_text(baseline: dict[str, TableSchema], current: dict[str, TableSchema]) -> dict[str, TableSchema]:
    """``current`` with the columns that the baseline holds as text kept as text: text holds any value, so
    a run whose values happen to read as numbers (after a type change to text was accepted) is no change."""
    adjusted = {}
    for name, table in current.items():
        kept = baseline.get(name)
        columns = {
            column: kept.columns[column]
            if kept is not None and column in kept.columns and kept.columns[column].data_type == "VARCHAR" else spec
            for column, spec in table.columns.items()}
        adjusted[name] = TableSchema(name, columns)
    return adjusted


def merged(baseline: dict[str, TableSchema], current: dict[str, TableSchema]) -> dict[str, TableSchema]:
    """The baseline with the tables of this load replaced by what was loaded."""
    return {**baseline, **current}


def check_drift(con, source: str, source_schema: dict[str, dict[str, str]], *, on_additive: Policy,
                on_breaking: Policy, run_id: str | None, journal: Path | None = None) -> DriftOutcome:
    """Compare and record; with a ``journal`` directory the history is restored from it into a warehouse
    that lost it, and saved to it after the change."""
    meta.ensure(con, journal)
    outcome = _check(con, source, source_schema, on_additive=on_additive, on_breaking=on_breaking, run_id=run_id)
    if journal is not None:
        meta.save_journal(con, journal)
    return outcome


def _check(con, source: str, source_schema: dict[str, dict[str, str]], *, on_additive: Policy,
           on_breaking: Policy, run_id: str | None) -> DriftOutcome:
    current = to_schemas(source_schema)
    stored = meta.current_baseline(con, source)
    if stored is None:
        meta.set_baseline(con, source, schemas_to_dict(current), "first load")
        return DriftOutcome(first_load=True, changes=[], blocked=False, pending_schema=schemas_to_dict(current))
    baseline = schemas_from_dict(stored)
    current = held_as_text(baseline, current)
    # only the tables this run delivered are compared: a table absent from one load is not removed
    compared = {t: s for t, s in baseline.items() if t in current}
    decision = decide(diff_schemas(compared, current), on_additive=on_additive, on_breaking=on_breaking)
    changes = [{**asdict(change), "action": action} for change, action in decision.actions]
    meta.record_drift(con, source, changes, run_id)
    target = schemas_to_dict(merged(baseline, current))
    if changes and not decision.blocked:
        meta.set_baseline(con, source, target, "policy")
    return DriftOutcome(first_load=False, changes=changes, blocked=decision.blocked, pending_schema=target)


def accept(con, source: str, pending_schema: dict, accepted_by: str, journal: Path | None = None) -> int:
    """Accept a source's blocked changes: the pending schema becomes the baseline. Returns events accepted."""
    meta.ensure(con, journal)
    meta.set_baseline(con, source, pending_schema, accepted_by)
    accepted = meta.accept_drift(con, source, accepted_by)
    if journal is not None:
        meta.save_journal(con, journal)
    return accepted

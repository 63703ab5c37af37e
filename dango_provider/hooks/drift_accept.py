"""Accepting a source's blocked schema changes: recorded in the warehouse's drift events (who, when) and
the governance journal, under the warehouse's write lock, then the source is released. One place for
``dango drift accept`` and the overview's button."""

from __future__ import annotations


def accept_drift(project, source_name: str, who: str) -> str:
    """Accept ``source_name``'s pending changes as ``who``; the sentence that says what happened."""
    from dango_provider.core.drift_check import accept
    from dango_provider.core.governance_state import describe_changes, drift_blocked, pending_schema, release_drift
    from dango_provider.core.naming import Naming
    from dango_provider.hooks.warehouse import warehouse_for
    from dango_provider.sources.pipeline import source_state_dir

    source = project.source(source_name)
    state_dir = source_state_dir(project, source)
    changes = drift_blocked(state_dir)
    if changes is None:
        return f"source '{source.name}' has no schema change waiting for acceptance"
    warehouse = warehouse_for(project)
    with warehouse.write_lock(f"dango drift accept {source.name} by {who}"):
        events = warehouse.transaction(lambda con: accept(con, source.name, pending_schema(state_dir), who,
                                                         journal=Naming.governance_journal(project.root)))
    release_drift(state_dir, accepted_by=who)
    return (f"accepted {events} schema change event(s) of source '{source.name}' as {who}: "
            f"{describe_changes(changes)}; dango_transform is released")

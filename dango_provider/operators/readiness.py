"""First task of ``dango_transform``: decide what this run builds from which sources have loaded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context


class SourcesReadyOperator(BaseOperator):
    """Build what is ready: the dbt nodes of sources that have loaded (and everything that depends only on
    them); leave out, by name, the nodes that depend on a source that has never loaded. Skips, saying
    why, when no source has loaded yet. Reads provider state and the manifest only; it never opens the
    warehouse and holds no pool slot.

    A run can be scoped to some sources: the run's conf ``{"sources": [...]}``, or, with ``transform: {build:
    changed}``, the sources whose loads triggered it. It then rebuilds only what depends on them (their
    staging models and everything downstream); the rest keeps what the warehouse holds.

    Returns ``{"ready": [...], "not_ready": [...], "left_out": {node: [sources]}, "selected": [...] | None,
    "not_selected": [nodes]}``; the dbt tasks read it.

    :param project_dir: the dango project directory (templated)
    """

    template_fields: Sequence[str] = ("project_dir",)
    ui_color = "#f4f6f7"

    def __init__(self, *, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_dir = project_dir

    def execute(self, context: Context) -> dict:
        from dango_provider.core.governance_state import ready_info, write_transform_scope
        from dango_provider.core.naming import Naming
        from dango_provider.core.transform_scope import left_out, not_selected, unparseable_references
        from dango_provider.settings import load_configured_project as load_project
        from dango_provider.sources.pipeline import source_state_dir

        project = load_project(self.project_dir, isolate_sources=True)
        sources = project.enabled_sources
        # which load of each ready source this run builds (recorded as built once the run publishes)
        loads = {s.name: info.get("ready_at") for s in sources
                 if (info := ready_info(source_state_dir(project, s))) is not None}
        ready = list(loads)
        not_ready = [s.name for s in sources if s.name not in ready]
        state_root = Naming.state_dir(project.root)

        def skip(reason: str) -> AirflowSkipException:
            write_transform_scope(state_root, {"run_id": context.get("run_id"), "ready": ready,
                                               "not_ready": not_ready, "left_out": {}, "skipped": reason})
            return AirflowSkipException(reason)

        if sources and not ready:
            raise skip("nothing to build: no source has loaded yet (" + ", ".join(not_ready) + "); the transform "
                       "runs again when one loads")
        blocking = unparseable_references(project.dbt_dir, not_ready)
        if blocking:
            self._stand_in(project, not_ready, blocking)
        manifest_path = Naming.manifest_path(project.dbt_dir)
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        excluded = left_out(manifest, not_ready)
        if not_ready:
            self.log.warning("source(s) not loaded yet, left out of this run: %s", ", ".join(not_ready))
            for node, blocking in excluded.items():
                self.log.warning("left out: %s (depends on %s, not loaded yet)", node, ", ".join(blocking))
        self.log.info("building from %d loaded source(s): %s", len(ready), ", ".join(ready) or "none")
        selected = self._selected(context, project, ready, loads)
        if selected == []:
            raise skip("nothing to build: this run is scoped to source(s) that have not loaded yet")
        outside = not_selected(manifest, selected) if selected is not None else []
        if selected is not None:
            self.log.info("this run rebuilds what depends on %s only; %d other node(s) keep what the warehouse "
                          "holds", ", ".join(selected) or "no loaded source", len(outside))
        scope = {"ready": ready, "not_ready": not_ready, "left_out": excluded, "selected": selected,
                 "not_selected": outside, "loads": loads}
        write_transform_scope(state_root, {**scope, "run_id": context.get("run_id"), "skipped": None})
        return scope

    def _selected(self, context: Context, project, ready: list[str], loads: dict[str, str | None]) -> list[str] | None:
        """The sources this run is scoped to (loaded ones only), or None for the whole project."""
        from dango_provider.core.governance_state import built_ready_at
        from dango_provider.core.naming import Naming
        from dango_provider.exceptions import DangoConfigError
        from dango_provider.sources.pipeline import source_state_dir

        conf = getattr(context.get("dag_run"), "conf", None) or {}
        names = conf.get("sources")
        if names is not None:
            known = {s.name for s in project.enabled_sources}
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise DangoConfigError('run conf "sources": expected a list of source names, got '
                                       f"{type(names).__name__}")
            unknown = sorted(set(names) - known)
            if unknown:
                raise DangoConfigError(f'run conf "sources": no enabled source named {", ".join(unknown)} '
                                       f"(known: {', '.join(sorted(known)) or 'none'})")
            self.log.info("run conf scopes this run to: %s", ", ".join(names))
        elif project.config.transform.build == "changed":
            prefix = Naming.raw_asset_uri("")
            events = context.get("triggering_asset_events") or {}
            names = sorted({asset.uri.removeprefix(prefix) for asset in events
                            if getattr(asset, "uri", "").startswith(prefix)})
            if not names:
                return None  # started by hand or by its schedule: the whole project
            self.log.info("transform.build is 'changed': this run was started by loads of %s", ", ".join(names))
            # A load whose event started another run (or whose run failed) may not be built yet: the models
            # this run rebuilds can depend on what it builds (a source's first load, above all).
            unbuilt = sorted(s.name for s in project.enabled_sources if s.name in ready and s.name not in names
                             and built_ready_at(source_state_dir(project, s)) != loads.get(s.name))
            if unbuilt:
                self.log.info("also building %s: loaded since a transform last built and published them",
                              ", ".join(unbuilt))
            names = sorted({*names, *unbuilt})
        else:
            return None
        return [name for name in names if name in ready]

    def _stand_in(self, project, not_ready: list[str], blocking: dict[str, list[str]]) -> None:
        """The project refers to sources that have never loaded, so dbt cannot parse it: write stand-ins
        for those references and refresh the manifest; what uses them is left out below (and, from the
        next parse on, shown as left out in each run)."""
        from dango_provider.core.dbt_cli import refresh_manifest
        from dango_provider.core.lock import warehouse_lock
        from dango_provider.core.transform_scope import write_placeholders
        from dango_provider.hooks.warehouse import warehouse_for

        for file, names in blocking.items():
            self.log.warning("%s uses %s, of source(s) not loaded yet: left out until they load", file,
                             ", ".join(names))
        warehouse = warehouse_for(project)
        with warehouse_lock(project.dbt_dir / ".dango-project.lock", timeout=warehouse.lock_timeout,
                            owner=f"{self.dag_id}.{self.task_id}"):
            written = write_placeholders(project.dbt_dir, not_ready)
            refresh_manifest(project.dbt_dir, warehouse.dbt_process_env(), project.config.dbt.target)
        self.log.info("stand-ins written for dbt to parse the project: %s",
                      ", ".join(str(p.relative_to(project.dbt_dir)) for p in written) or "none new")

"""The dbt part of ``dango_transform``: one ``dbt build`` of the project, which publishes the serving copy,
then the nodes rendered by Cosmos from the manifest, each reporting its result.

Rendering reads ``target/manifest.json`` (``LoadMode.DBT_MANIFEST``): no ``dbt ls`` at parse time.
``dbt_build`` builds everything the run builds in one invocation, selecting at run time, so a source added
since the manifest was last rendered is still built by the first transform after its ingest. Each
rendered node task (a model, seed or snapshot with its tests, ``TestBehavior.BUILD``, or a test on several
models) reports what the build did with its node and fails when it failed; on a retry or a clear it builds
its node itself (``dango_provider.dbt.one_build``). Every dbt task runs in the writer pool, in the task's
own process (``InvocationMode.DBT_RUNNER``), holding the warehouse file lock for the whole invocation
(``dango_provider.dbt.in_process``).
"""

from __future__ import annotations

from pathlib import Path

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator, DbtSourceLocalOperator

from dango_provider.core.dbt_cli import read_manifest
from dango_provider.core.naming import Naming
from dango_provider.dbt.one_build import BUILD_TASK
from dango_provider.offline import TELEMETRY_OFF, disable_telemetry

disable_telemetry()  # also when Cosmos was imported (by its plugin) before this module

STAGING_SELECTOR = "path:models/staging"


def _common(dbt_dir: Path, env: dict[str, str], writer: dict[str, str], target: str,
            project_root: Path) -> tuple[ProfileConfig, dict]:
    from dango_provider.core.dbt_profile import profile_name, profiles_dir

    profile = ProfileConfig(profile_name=profile_name(dbt_dir), target_name=target,
                            profiles_yml_filepath=profiles_dir(dbt_dir, env) / "profiles.yml")
    operator_args = {
        "pre_execute": prepare_dbt_task,
        **writer,  # the writer pool (and the DuckDB file's queue)
        "env": {**env, **TELEMETRY_OFF},
        "append_env": True,
        "install_deps": False,
        # after dbt ran (failed too): its run_results.json into the run's record (dango status, the overview)
        "callback": record_run_results,
        "callback_args": {"project_root": str(project_root)},
    }
    return profile, operator_args


def record_run_results(project_dir: str, *, project_root: str, context) -> None:
    import json

    from dango_provider.core.transform_results import record
    from dango_provider.dbt.one_build import remember_run_results

    path = Path(project_dir) / "target" / "run_results.json"
    try:
        run_results = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # dbt stopped before it ran a node (a parse error): the task's own log says why
    record(Naming.state_dir(Path(project_root)), context["run_id"], run_results, task_id=context["task"].task_id)
    remember_run_results(context["task"], run_results)


def prepare_dbt_task(context) -> None:
    """``pre_execute`` of every dbt task: run dbt in process under the warehouse lock, leave out what
    depends on a source that never loaded, let ``dbt_build`` publish what it built, and let a node task report
    what ``dbt_build`` did with its node."""
    from dango_provider.dbt.in_process import locked
    from dango_provider.dbt.lineage import skip_unread_lineage
    from dango_provider.dbt.one_build import (
        publish_after_building,
        report_instead_of_building,
        tolerate_reported_failures,
    )

    task = context["task"]
    task.run_dbt_runner = locked(task.run_dbt_runner)
    skip_unread_lineage(task)
    leave_out(context)
    if task.task_id == BUILD_TASK:
        tolerate_reported_failures(context)
        publish_after_building(context)
    else:
        report_instead_of_building(context)


def leave_out(context) -> None:
    """Skip a node that ``sources_ready`` left out of this run, saying why: it depends on a source that never
    loaded, or the run is scoped to sources it does not depend on. Keep the staging build off those
    sources' models. Without a decision (``sources_ready`` skipped: nothing to build) skip too."""
    from airflow.sdk.exceptions import AirflowSkipException

    scope = context["ti"].xcom_pull(task_ids="sources_ready")
    if scope is None:
        raise AirflowSkipException("nothing to build in this run: sources_ready decided so (see its log)")
    task = context["task"]
    select = str(getattr(task, "select", None) or "")
    node = select.removeprefix("fqn:").rsplit(".", 1)[-1] if select.startswith("fqn:") else select
    left = dict(scope.get("left_out") or {})
    outside = set(scope.get("not_selected") or [])
    manifest = read_manifest(Path(task.project_dir))
    if scope.get("not_ready") or scope.get("selected") is not None:
        # the manifest this task was rendered from may be newer than the one sources_ready read (an ingest
        # refreshed it meanwhile): decide on the current one too
        left_now, outside_now = _scope_now(manifest, scope)
        left.update(left_now)
        outside |= outside_now
    blocking = left.get(node)
    if blocking:
        raise AirflowSkipException(f"left out: {node} depends on source(s) not loaded yet: {', '.join(blocking)}")
    if node in outside:
        raise AirflowSkipException(f"not selected: this run rebuilds only what depends on "
                                   f"{', '.join(scope['selected'])}; {node} keeps what the warehouse holds")
    if task.task_id == BUILD_TASK:
        selected = scope.get("selected")
        skipped = [name for name in scope.get("ready") or [] if selected is not None and name not in selected]
        extra = [f"path:models/staging/{name}" for name in [*(scope.get("not_ready") or []), *skipped]]
        extra += _fqn_selectors(manifest, set(left) | outside)
        if extra:
            existing = task.exclude if isinstance(task.exclude, list) else str(task.exclude or "").split()
            task.exclude = [*existing, *extra]


def _fqn_selectors(manifest: dict, names: set[str]) -> list[str]:
    """``fqn:`` selectors of the nodes named ``names`` (a bare name would also select a folder so named)."""
    return sorted({"fqn:" + ".".join(node["fqn"]) for node in (manifest.get("nodes") or {}).values()
                   if node.get("name") in names and node.get("fqn")})


def _scope_now(manifest: dict, scope: dict) -> tuple[dict[str, list[str]], set[str]]:
    from dango_provider.core.transform_scope import left_out, not_selected

    if not manifest:
        return {}, set()
    selected = scope.get("selected")
    return (left_out(manifest, scope.get("not_ready") or []),
            set(not_selected(manifest, selected)) if selected is not None else set())


def project_build(*, dbt_dir: Path, env: dict[str, str], writer: dict[str, str], target: str, project_root: Path,
                  task_id: str = BUILD_TASK):
    """One task: ``dbt build`` of everything the run builds (models, seeds, snapshots and their tests).

    dbt parses partially: Cosmos copies the newer of the project's ``target/partial_parse.msgpack`` (the
    ingest's ``dbt parse`` keeps it) and its cache's into the task's copy of the project, and caches the
    build's own afterwards. Without a cache directory Cosmos copies none, and dbt parses the whole project.
    """
    profile, operator_args = _common(dbt_dir, env, writer, target, project_root)
    return DbtBuildLocalOperator(
        task_id=task_id,
        project_dir=str(dbt_dir),
        profile_config=profile,
        emit_datasets=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        cache_dir=parse_cache_dir(dbt_dir),
        **operator_args,
    )


def parse_cache_dir(dbt_dir: Path) -> Path:
    """Where the build's dbt parse state is cached on this machine: Cosmos' cache directory, one
    folder per dbt project."""
    import hashlib

    from cosmos import settings as cosmos_settings

    digest = hashlib.sha256(str(dbt_dir.resolve()).encode()).hexdigest()[:12]
    return Path(cosmos_settings.cache_dir) / f"dango_build_{digest}"


def source_freshness(*, dbt_dir: Path, env: dict[str, str], writer: dict[str, str], target: str, project_root: Path,
                     sources: list[str], task_id: str = "dbt_source_freshness"):
    """``dbt source freshness`` for the raw sources that declare a ``loaded_at_field``; fails when stale."""
    profile, operator_args = _common(dbt_dir, env, writer, target, project_root)
    return DbtSourceLocalOperator(
        task_id=task_id,
        project_dir=str(dbt_dir),
        profile_config=profile,
        select=" ".join(f"source:{s}" for s in sources),
        emit_datasets=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        **operator_args,
    )


def transform_group(*, dbt_dir: Path, env: dict[str, str], writer: dict[str, str], target: str, project_root: Path,
                    group_id: str = "dbt"):
    """Seeds, snapshots, intermediate and mart models with their tests, rendered from the manifest: each
    task reports its node from ``dbt_build`` (or builds it on a retry). None without a manifest (no source
    loaded yet): ``dbt_build`` alone builds and answers for everything then.
    """
    profile, operator_args = _common(dbt_dir, env, writer, target, project_root)
    manifest = Naming.manifest_path(dbt_dir)
    if not manifest.exists():
        return None
    # a node runs unless an upstream node failed: one left out of the run (skipped) does not stop the nodes
    # after it that are in the run; each node decides for itself in ``leave_out``
    operator_args["trigger_rule"] = "none_failed"
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=dbt_dir, manifest_path=manifest, install_dbt_deps=False),
        profile_config=profile,
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            exclude=[STAGING_SELECTOR],
            test_behavior=TestBehavior.BUILD,
            # a test on several models (relationships) runs once all of them are built
            should_detach_multiple_parents_tests=True,
            enable_mock_profile=False,
        ),
        operator_args=operator_args,
    )

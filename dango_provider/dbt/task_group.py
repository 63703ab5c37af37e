"""The dbt part of ``dango_transform``: staging build, then the rest rendered by Cosmos from the manifest.

Rendering reads ``target/manifest.json`` (``LoadMode.DBT_MANIFEST``): no ``dbt ls`` at parse time.
Staging models are built by one task selecting ``path:models/staging`` at run time, so a source
added since the manifest was last rendered is still built by the first transform after its ingest.
Every dbt task runs in the writer pool, in the task's own process (``InvocationMode.DBT_RUNNER``: no
Python start and project load per task), holding the warehouse file lock for the whole invocation
(``dango_provider.dbt.in_process``). Each model is one ``dbt build`` of the model and its tests
(``TestBehavior.BUILD``): a failing test fails the model's task and the run.
"""

from __future__ import annotations

from pathlib import Path

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator, DbtSourceLocalOperator

from dango_provider.core.naming import Naming
from dango_provider.offline import TELEMETRY_OFF, disable_telemetry

disable_telemetry()  # also when Cosmos was imported (by its plugin) before this module

STAGING_SELECTOR = "path:models/staging"


def _common(dbt_dir: Path, env: dict[str, str], pool: str, target: str) -> tuple[ProfileConfig, dict]:
    from dango_provider.core.dbt_profile import profiles_dir

    profile = ProfileConfig(profile_name=_profile_name(dbt_dir), target_name=target,
                            profiles_yml_filepath=profiles_dir(dbt_dir) / "profiles.yml")
    operator_args = {
        "pre_execute": prepare_dbt_task,
        "pool": pool,
        "env": {**env, **TELEMETRY_OFF},
        "append_env": True,
        "install_deps": False,
    }
    return profile, operator_args


def prepare_dbt_task(context) -> None:
    """``pre_execute`` of every dbt task: run dbt in process under the warehouse lock, and leave out what
    depends on a source that never loaded."""
    from dango_provider.dbt.in_process import locked

    task = context["task"]
    task.run_dbt_runner = locked(task.run_dbt_runner)
    leave_out_not_ready(context)


def leave_out_not_ready(context) -> None:
    """Skip a node that depends on a source that never loaded, saying which (``sources_ready`` decided it),
    and keep the staging build off those sources' models."""
    from airflow.sdk.exceptions import AirflowSkipException

    scope = context["ti"].xcom_pull(task_ids="sources_ready") or {}
    task = context["task"]
    select = str(getattr(task, "select", None) or "")
    node = select.removeprefix("fqn:").rsplit(".", 1)[-1] if select.startswith("fqn:") else select
    left = dict(scope.get("left_out") or {})
    if scope.get("not_ready") and task.task_id != "dbt_staging":
        # the manifest this task was rendered from may be newer than the one sources_ready read (an ingest
        # refreshed it meanwhile): decide on the current one too
        left.update(_left_out_now(Path(task.project_dir), scope["not_ready"]))
    blocking = left.get(node)
    if blocking:
        raise AirflowSkipException(f"left out: {node} depends on source(s) not loaded yet: {', '.join(blocking)}")
    if task.task_id == "dbt_staging" and scope.get("not_ready"):
        extra = [f"path:models/staging/{name}" for name in scope["not_ready"]]
        existing = task.exclude if isinstance(task.exclude, list) else str(task.exclude or "").split()
        task.exclude = [*existing, *extra]


def _left_out_now(dbt_dir: Path, not_ready: list[str]) -> dict[str, list[str]]:
    import json

    from dango_provider.core.transform_scope import left_out

    manifest = Naming.manifest_path(dbt_dir)
    try:
        return left_out(json.loads(manifest.read_text()), not_ready)
    except (OSError, ValueError):
        return {}


def _profile_name(dbt_dir: Path) -> str:
    import yaml

    try:
        return yaml.safe_load((dbt_dir / "dbt_project.yml").read_text()).get("profile") or "dango"
    except (OSError, AttributeError):
        return "dango"


def staging_build(*, dbt_dir: Path, env: dict[str, str], pool: str, target: str, task_id: str = "dbt_staging"):
    """One task: ``dbt build --select path:models/staging`` (models and their tests)."""
    profile, operator_args = _common(dbt_dir, env, pool, target)
    return DbtBuildLocalOperator(
        task_id=task_id,
        project_dir=str(dbt_dir),
        profile_config=profile,
        select=STAGING_SELECTOR,
        emit_datasets=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        **operator_args,
    )


def source_freshness(*, dbt_dir: Path, env: dict[str, str], pool: str, target: str, sources: list[str],
                     task_id: str = "dbt_source_freshness"):
    """``dbt source freshness`` for the raw sources that declare a ``loaded_at_field``; fails when stale."""
    profile, operator_args = _common(dbt_dir, env, pool, target)
    return DbtSourceLocalOperator(
        task_id=task_id,
        project_dir=str(dbt_dir),
        profile_config=profile,
        select=" ".join(f"source:{s}" for s in sources),
        emit_datasets=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        **operator_args,
    )


def transform_group(*, dbt_dir: Path, env: dict[str, str], pool: str, target: str, group_id: str = "dbt"):
    """Seeds, snapshots, intermediate and mart models with tests after each, rendered from the manifest.

    Without a manifest (no source loaded yet) this is a single ``dbt build`` task instead.
    """
    profile, operator_args = _common(dbt_dir, env, pool, target)
    manifest = Naming.manifest_path(dbt_dir)
    if not manifest.exists():
        return DbtBuildLocalOperator(
            task_id=f"{group_id}_build",
            project_dir=str(dbt_dir),
            profile_config=profile,
            exclude=STAGING_SELECTOR,
            invocation_mode=InvocationMode.DBT_RUNNER,
            **operator_args,
        )
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

"""``build_dags(project)``: a loaded project becomes Airflow DAGs. Opens no database, runs no subprocess."""

from __future__ import annotations

from datetime import UTC, date, datetime

from airflow.sdk import DAG, Asset, AssetAny

from dango_provider.config.loader import Project
from dango_provider.config.model import Source
from dango_provider.core.naming import Naming
from dango_provider.exceptions import DangoConfigError
from dango_provider.settings import DangoSettings, load_settings, multi_worker_executors


class _RawAsset(Asset):
    """An Asset that computes its hash once.

    Airflow hashes the DAG, schedule included, on every ``a >> b``, and ``Asset.__hash__`` serializes
    the asset to JSON each time: with an ``AssetAny`` of many sources that was over half of the build.
    Assets are immutable, so caching the hash changes nothing else (serialization is the same).
    """

    def __hash__(self) -> int:
        cached = self.__dict__.get("_dango_hash")
        if cached is None:
            cached = Asset.__hash__(self)
            object.__setattr__(self, "_dango_hash", cached)
        return cached


def raw_asset(source: str) -> Asset:
    return _RawAsset(name=Naming.raw_asset_name(source), uri=Naming.raw_asset_uri(source), group="dango")


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _ingest_schedule(value: str | None, timezone: str = "UTC"):
    """A cron schedule with data intervals: each run covers [previous tick, this tick).

    Airflow 3 turns a plain cron string into a trigger timetable whose runs have an empty interval
    (start == end) unless ``[scheduler] create_cron_data_intervals`` is set. Incremental sources load
    exactly their run's interval, so ingest DAGs always get interval timetables: scheduled runs and
    ``airflow backfill create`` then cover the source's history without gaps or overlaps.
    """
    if value is None or value in ("@once", "@continuous"):
        return value
    from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable(value, timezone)


def _default_args(project: Project) -> dict:
    from dango_provider.config.model import parse_duration

    defaults = project.config.defaults
    return {"owner": "dango", "retries": defaults.retries, "retry_delay": parse_duration(defaults.retry_delay)}


def build_ingest_dag(project: Project, source: Source, settings: DangoSettings) -> DAG:
    from dango_provider.config.model import compatibility_notes
    from dango_provider.operators.failure import record_ingest_failure
    from dango_provider.operators.ingest import DltExtractOperator, DltLoadOperator
    from dango_provider.operators.pii_scan import PIIScanOperator
    from dango_provider.operators.schema_drift import SchemaDriftCheckOperator
    from dango_provider.operators.staging import GenerateStagingOperator

    defaults = project.config.defaults
    common = {"project_dir": str(project.root), "source_name": source.name}
    with DAG(
        dag_id=Naming.ingest_dag_id(source.name),
        description=source.description or f"Load source '{source.name}' ({source.type}) into {Naming.raw_schema(source.name)}",
        schedule=_ingest_schedule(*project.schedule_of(source)),
        start_date=_start(source.start_date or defaults.start_date),
        catchup=False,
        # one run at a time per source: runs share the source's dlt working directory
        max_active_runs=1,
        default_args={**_default_args(project), "on_failure_callback": record_ingest_failure},
        tags=["dango", "ingest", source.type, *source.tags],
        doc_md="\n\n".join([source.description or "",
                              *(f"Differs from Dango: {note}." for note in
                                compatibility_notes(project.config.defaults, source,
                                                    dango_project=project.is_dango_layout))]).strip() or None,
    ) as dag:
        extract = DltExtractOperator(task_id="extract", **common)
        writer = writer_placement(project, settings)
        load = DltLoadOperator(task_id="load", **writer, **common)
        drift = SchemaDriftCheckOperator(task_id="schema_drift", **writer, **common)
        staging = GenerateStagingOperator(task_id="generate_staging", outlets=[raw_asset(source.name)], **common)
        pii = PIIScanOperator(task_id="pii_scan", **writer, **common)
        extract >> load >> drift >> pii >> staging
    return dag


def build_transform_dag(project: Project, settings: DangoSettings) -> DAG:
    from airflow.sdk import CronTriggerTimetable

    from dango_provider.config.model import loaded_at_field, parse_duration
    from dango_provider.dbt.task_group import project_build, source_freshness, transform_group
    from dango_provider.hooks.warehouse import warehouse_for
    from dango_provider.operators.dbt_docs import DbtDocsOperator
    from dango_provider.operators.metabase import MetabaseRefreshOperator
    from dango_provider.operators.readiness import SourcesReadyOperator
    from dango_provider.sensors.freshness import FreshnessSensor
    from dango_provider.sensors.schema_drift import SchemaDriftSensor

    assets = [raw_asset(s.name) for s in project.enabled_sources]
    dbt_schedule = project.dango_schedules.transform
    schedule = project.config.transform.schedule or (
        CronTriggerTimetable(dbt_schedule.cron, timezone=dbt_schedule.timezone) if dbt_schedule else None
    ) or (AssetAny(*assets) if assets else None)
    env = {**warehouse_for(project).dbt_env(), "DANGO_LOCK_TIMEOUT": str(settings.lock_timeout)}
    dbt_dir, target = project.dbt_dir, project.config.dbt.target
    writer = writer_placement(project, settings)
    with DAG(
        dag_id=Naming.transform_dag_id,
        description="Build the dbt project: staging, snapshots, intermediate and marts, with tests",
        schedule=schedule,
        start_date=_start(project.config.defaults.start_date),
        catchup=False,
        max_active_runs=1,
        default_args={**_default_args(project), "retries": 0},
        tags=["dango", "transform"],
    ) as dag:
        transform = project.config.transform
        waiting = {  # sensors read state files only: no pool, so they never hold the writer slot
            "project_dir": str(project.root),
            "timeout": parse_duration(transform.governance_timeout).total_seconds(),
            "poke_interval": parse_duration(transform.poll_interval).total_seconds(),
        }
        ready = SourcesReadyOperator(task_id="sources_ready", project_dir=str(project.root))
        drift_gate = SchemaDriftSensor(task_id="schema_drift_gate", **waiting)
        freshness = FreshnessSensor(task_id="freshness", **waiting)
        build = project_build(dbt_dir=dbt_dir, env=env, writer=writer, target=target, project_root=project.root)
        rest = transform_group(dbt_dir=dbt_dir, env=env, writer=writer, target=target, project_root=project.root)
        # no pool: Metabase reads the serving copy, never the warehouse. After the node tasks, so that clearing a
        # failed node task with its downstream tasks refreshes Metabase and the docs once its rebuild publishes;
        # node tasks a scoped run left out are skipped and do not stop it
        refresh_metabase = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project.root),
                                                   trigger_rule="none_failed_min_one_success")
        docs = DbtDocsOperator(task_id="dbt_docs", project_dir=str(project.root), **writer)
        gates = [drift_gate, freshness]
        with_loaded_at = [Naming.raw_schema(s.name) for s in project.enabled_sources if loaded_at_field(s)]
        if with_loaded_at:
            checked = source_freshness(dbt_dir=dbt_dir, env=env, writer=writer, target=target, project_root=project.root,
                                       sources=with_loaded_at)
            [ready, *gates] >> checked  # a dbt task: it reads sources_ready's decision
            gates = [checked]
        # the gates read state files only and do not wait for sources_ready: the three start together
        [ready, *gates] >> build
        # dbt_build publishes what it built unless a node of the run failed; the node tasks report after it
        build >> refresh_metabase >> docs
        if rest is not None:
            build >> rest >> refresh_metabase
    return dag


def writer_placement(project: Project, settings: DangoSettings) -> dict[str, str]:
    """Where a task that opens the warehouse runs: the writer pool, and with a DuckDB file on a
    multi-worker executor the one queue of ``[dango] duckdb_queue`` (one machine opens the file)."""
    if project.config.warehouse.type == "duckdb" and settings.duckdb_queue:
        return {"pool": settings.pool, "queue": settings.duckdb_queue}
    return {"pool": settings.pool}


def refuse_shared_duckdb_file(project: Project, settings: DangoSettings) -> None:
    """A DuckDB file can be opened by one machine only: on an executor with several workers the tasks
    that open it must share one queue that one worker consumes."""
    if project.config.warehouse.type != "duckdb" or settings.duckdb_queue:
        return
    executors = multi_worker_executors()
    if executors:
        raise DangoConfigError(
            f"{project.sources_file}: the warehouse is the DuckDB file {project.warehouse_path}, which one machine "
            f"only may open, and [core] executor ({', '.join(executors)}) runs tasks on several workers: set "
            "[dango] duckdb_queue (AIRFLOW__DANGO__DUCKDB_QUEUE) to a queue that one worker consumes "
            "(airflow celery worker --queues default,<that queue> on one worker), or use warehouse type ducklake")


def build_dags(project: Project, settings: DangoSettings | None = None, only: str | None = None) -> dict[str, DAG]:
    """Every DAG of the project, or only the DAG ``only`` names (a task process needs no other)."""
    settings = settings or load_settings()
    refuse_shared_duckdb_file(project, settings)
    sources = {Naming.ingest_dag_id(s.name): s for s in project.enabled_sources}
    dags = {dag_id: build_ingest_dag(project, s, settings) for dag_id, s in sources.items() if only in (None, dag_id)}
    if only in (None, Naming.transform_dag_id):
        dags[Naming.transform_dag_id] = build_transform_dag(project, settings)
    return dags


class _InvalidSourcesDag(DAG):
    """Never loaded: Airflow validates every DAG of a file before it keeps it, and this one fails its
    validation with the errors of the source entries left out. Airflow then lists them as an import
    error of the DAG file (the import errors view, ``airflow dags list-import-errors``) while the
    file's other DAGs load as usual."""

    def validate(self):
        raise DangoConfigError(self.description or "invalid source entries")


def invalid_sources_dag(project: Project) -> DAG:
    lines = [str(error) for invalid in project.invalid_sources for error in invalid.errors]
    left_out = ", ".join(invalid.label for invalid in project.invalid_sources)
    text = (f"{len(project.invalid_sources)} source entr{'y' if len(project.invalid_sources) == 1 else 'ies'} of "
            f"{project.sources_file} left out ({left_out}): their DAGs are not loaded; the other sources and "
            f"{Naming.transform_dag_id} are.\n" + "\n".join(lines))
    return _InvalidSourcesDag(dag_id=Naming.invalid_sources_dag_id, schedule=None, description=text)

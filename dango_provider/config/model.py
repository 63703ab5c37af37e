"""Typed model of sources.yml. Accepts Dango's ``.dango/sources.yml`` format plus our own blocks.

No Airflow, Cosmos or dlt imports here: the model is loaded by the CLI and by tests as plain data.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dango_provider.config.dlt_native import DltNativeOptions
from dango_provider.config.rest_api import GithubOptions, HubspotOptions, RestApiOptions, StripeOptions
from dango_provider.config.sql_database import SqlDatabaseOptions
from dango_provider.core.naming import validate_identifier

WriteDisposition = Literal["append", "merge", "replace"]
PrimaryKey = str | list[str]

# Types this version builds (each has a block of the same name), and Dango types it cannot run yet.
FILE_TYPES = ("csv", "local_files", "filesystem")
SUPPORTED_TYPES = FILE_TYPES + ("rest_api", "stripe", "github", "hubspot", "sql_database", "postgres", "mysql",
                                "dlt_native")
#: Dango 1.0.13's other source types (its ``SourceType``): refused with one message naming what is supported
DANGO_TYPES_NOT_YET_SUPPORTED = (
    "facebook_ads", "google_ads", "google_analytics", "google_sheets", "matomo", "mux", "airtable", "salesforce",
    "pipedrive", "freshdesk", "zendesk", "asana", "jira", "workable", "shopify", "notion", "inbox", "mongodb", "kafka",
    "kinesis", "slack", "chess", "strapi", "personio",
)
#: Dango's ``empty_sync_policy``: ``block`` keeps the existing data and fails the sync (our ``fail``)
EmptySyncPolicy = Literal["fail", "block", "allow"]

_CRON_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@continuous"}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([^}]*)\}?")


def expand_path(value: str | None) -> str | None:
    """A path field with each ``${NAME}`` replaced by environment variable NAME; an unset variable or a
    malformed reference is an error naming it (a path is never used with ``${...}`` in it)."""
    if value is None or "${" not in value:
        return value

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            raise ValueError(f"'${{{match.group(2)}' is not a reference to an environment variable; write ${{NAME}}")
        if name not in os.environ:
            raise ValueError(f"the path refers to environment variable {name}, which is not set; set it in the "
                             "environment of the Airflow components (and of the dango CLI)")
        return os.environ[name]

    return _ENV_REFERENCE.sub(substitute, value)


class CsvOptions(StrictModel):
    """Dango's ``csv`` block: every file matching ``file_pattern`` in ``directory`` goes to one table."""

    directory: str
    file_pattern: str = "*.csv"
    delimiter: str | None = None
    header: bool = True
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    table: str | None = Field(default=None, description="Table name; defaults to the source name.")
    deduplication_strategy: Literal["none", "latest_only", "append_only", "scd_type2"] = "latest_only"
    primary_key: PrimaryKey | None = None
    timestamp_column: str | None = None
    timestamp_sort: Literal["desc", "asc"] = "desc"
    notes: str | None = None

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        return None if value is None else validate_identifier(value, "table name")

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str | None) -> str | None:
        return expand_path(value)


class LocalFilesOptions(CsvOptions):
    """Dango's ``local_files`` block: like ``csv`` with a file format (csv, jsonl or parquet)."""

    file_pattern: str = "*"
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        default=None, description="File format; taken from the file extension when omitted."
    )


class FilesystemOptions(LocalFilesOptions):
    """Files from a local path or glob, or from an fsspec URL (``s3://``, ``gs://``, ``memory://`` ...)
    when the user has that fsspec driver installed. ``bucket_url`` is dlt's name for ``directory``."""

    directory: str | None = None  # type: ignore[assignment]  # optional here: bucket_url may stand instead
    bucket_url: str | None = None
    file_glob: str | None = Field(default=None, description="dlt's name for file_pattern; '**' recurses.")

    @field_validator("bucket_url")
    @classmethod
    def _bucket_url(cls, value: str | None) -> str | None:
        return expand_path(value)

    @model_validator(mode="after")
    def _location(self) -> FilesystemOptions:
        if (self.directory is None) == (self.bucket_url is None):
            raise ValueError("set exactly one of directory (a local path) or bucket_url (a path or an fsspec URL)")
        return self

    @property
    def url(self) -> str | None:
        """The fsspec URL when the files are not on a local path, else None."""
        location = self.bucket_url or ""
        if "://" in location and not location.startswith("file://"):
            return location
        return None

    @property
    def local_directory(self) -> str:
        location = self.directory or self.bucket_url or ""
        return location.removeprefix("file://")

    @property
    def pattern(self) -> str:
        return self.file_glob or self.file_pattern


DriftAction = Literal["evolve", "warn", "block"]
#: rows of one merge load that share a primary key value: keep the last one (and say so), or refuse the load
DuplicateKeys = Literal["keep_last", "fail"]
PIIEntity = Literal["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "PERSON",
                    "LOCATION"]
MaskMethod = Literal["hash", "redact", "partial"]
_DURATION = re.compile(r"^(\d+)\s*(s|m|min|h|d|w)$")
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> timedelta:
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"'{value}' is not a duration; use a number and a unit s, m, h, d or w (for example '6h', '2d')")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


class SchemaDriftPolicy(StrictModel):
    """What to do with schema changes after a load: additive ones and breaking ones."""

    on_additive: DriftAction | None = None
    on_breaking: DriftAction | None = None


class PIIPolicy(StrictModel):
    """Personal data scan after each load. ``columns`` overrides a column: an entity, or null (not PII)."""

    policy: Literal["report", "mask", "block"] | None = None
    sample_size: Annotated[int, Field(ge=10, le=100_000)] | None = None
    methods: dict[PIIEntity, MaskMethod] = Field(default_factory=dict)
    columns: dict[str, PIIEntity | None] = Field(default_factory=dict)
    nlp_model: str | None = None


class Freshness(StrictModel):
    """A source is stale when its last successful load is older than these durations."""

    warn_after: str | None = None
    error_after: str | None = None
    loaded_at_field: str | None = Field(
        default=None, description="A timestamp column of the raw table: dbt source freshness checks its maximum."
    )

    @field_validator("warn_after", "error_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


AlertEvent = Literal["failed", "drift_block", "pii_block", "stale"]


def _all_alert_events() -> list[AlertEvent]:
    return ["failed", "drift_block", "pii_block", "stale"]


class Alert(StrictModel):
    """One alert destination, through Airflow's notifiers: ``slack`` names an Airflow Slack incoming-webhook
    connection (the Slack provider's notifier), ``webhook`` an Airflow HTTP connection (a JSON POST with a
    ``text`` field), ``email`` lists recipients sent through an SMTP connection (``smtp_conn_id``, default
    Airflow's ``[email] email_conn_id``). ``events`` picks the events (all four by default; YAML reads a
    bare ``on`` key as true)."""

    slack: str | None = Field(default=None, description="Airflow connection id of type slackwebhook; its "
                              "password is the webhook's token (or whole URL).")
    webhook: str | None = Field(default=None, description="Airflow HTTP connection id; its host is the whole "
                                "webhook URL, which is a secret for many services.")
    email: list[str] | None = None
    smtp_conn_id: str | None = None
    events: list[AlertEvent] = Field(default_factory=_all_alert_events)

    @property
    def connection(self) -> str | None:
        """The Airflow connection the alert sends through (None: e-mail through the default one)."""
        return self.slack or self.webhook or self.smtp_conn_id

    @model_validator(mode="after")
    def _one_destination(self) -> Alert:
        if [self.slack, self.webhook, self.email].count(None) != 2:
            raise ValueError("an alert names exactly one destination: slack (an Airflow Slack webhook connection "
                             "id), webhook (an Airflow HTTP connection id) or email (a list of addresses)")
        if self.email is None and self.smtp_conn_id is not None:
            raise ValueError("smtp_conn_id belongs to an email alert")
        if not self.events:
            raise ValueError("events: name at least one event (failed, drift_block, pii_block, stale)")
        return self


class Source(StrictModel):
    name: str
    type: str
    enabled: bool = True
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    schedule: str | None = None
    start_date: date | datetime | None = None
    primary_key: PrimaryKey | None = None
    write_disposition: WriteDisposition | None = None
    lookback_days: Annotated[int, Field(ge=0)] | None = None
    empty_sync_policy: EmptySyncPolicy | None = None
    on_duplicate_keys: DuplicateKeys | None = None
    settle_seconds: Annotated[int, Field(ge=0, le=86400)] | None = None
    schema_drift: SchemaDriftPolicy | None = None
    pii: PIIPolicy | None = None
    freshness: Freshness | None = None
    alerts: list[Alert] | None = Field(default=None, description="Replaces defaults.alerts for this source.")
    csv: CsvOptions | None = None
    local_files: LocalFilesOptions | None = None
    filesystem: FilesystemOptions | None = None
    rest_api: RestApiOptions | None = None
    stripe: StripeOptions | None = None
    github: GithubOptions | None = None
    hubspot: HubspotOptions | None = None
    sql_database: SqlDatabaseOptions | None = None
    postgres: SqlDatabaseOptions | None = None
    mysql: SqlDatabaseOptions | None = None
    dlt_native: DltNativeOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _dango_generic_config(cls, data):
        """Dango writes database and filesystem blocks under ``generic_config``; read it as the type's own
        block. A Dango type this version does not run is refused here, once, before its own block would
        add errors of its own."""
        if isinstance(data, dict) and data.get("type") in DANGO_TYPES_NOT_YET_SUPPORTED:
            raise ValueError(f"Dango type {data['type']} is not supported yet; supported: " + ", ".join(SUPPORTED_TYPES))
        if (isinstance(data, dict) and data.get("type") in ("postgres", "mysql", "sql_database", "filesystem")
                and "generic_config" in data and data["type"] not in data):
            data = {**data, data["type"]: data["generic_config"]}
            del data["generic_config"]
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_identifier(value, "source name")

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value in SUPPORTED_TYPES:
            return value
        raise ValueError(f"unknown source type '{value}'; supported types: " + ", ".join(SUPPORTED_TYPES))

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _check_schedule(value)

    @model_validator(mode="after")
    def _type_block(self) -> Source:
        present = [t for t in SUPPORTED_TYPES if getattr(self, t) is not None]
        if self.type not in present:
            example = _BLOCK_EXAMPLES.get(self.type, f"{{directory: data/{self.name}}}")
            raise ValueError(
                f"source '{self.name}' of type '{self.type}' needs a '{self.type}:' block "
                f"(for example: {self.type}: {example})"
            )
        others = [t for t in present if t != self.type]
        if others:
            raise ValueError(f"source '{self.name}' is of type '{self.type}' but also has a '{others[0]}:' block")
        if self.lookback_days and self.write_disposition == "append":
            raise ValueError(
                f"source '{self.name}': lookback_days reads the days before each interval again, which "
                "write_disposition append would load twice; use merge (with a primary key) or remove lookback_days"
            )
        if (self.type in FILE_TYPES and self.write_disposition == "merge"
                and not (self.primary_key or self.options.primary_key)):
            raise ValueError(
                f"source '{self.name}' has write_disposition merge but no primary_key; "
                "set primary_key (a column or a list) or use append or replace"
            )
        return self

    @property
    def options(self):
        """The block of this source's type (``csv:``, ``rest_api:`` ...)."""
        return getattr(self, self.type)

    @property
    def is_file_source(self) -> bool:
        return self.type in FILE_TYPES and not (self.type == "filesystem" and self.options.url)


_BLOCK_EXAMPLES = {
    "rest_api": "{base_url: https://api.example.com/v1, resources: [orders]}",
    "stripe": "{stripe_secret_key_env: STRIPE_API_KEY}",
    "github": "{owner: my-org, name: my-repo, access_token_env: GITHUB_ACCESS_TOKEN}",
    "hubspot": "{api_key_env: HUBSPOT_TOKEN}",
    "sql_database": "{conn_id: my_postgres, schema: public}",
    "postgres": "{conn_id: my_postgres, schema: public}",
    "mysql": "{conn_id: my_mysql, schema: shop}",
    "dlt_native": "{source_module: my_sources, source_function: my_source}",
}


_LAKE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]+")


class Warehouse(StrictModel):
    """``duckdb``: one DuckDB file (``path``). ``ducklake``: a DuckLake whose catalog is the PostgreSQL
    database of Airflow connection ``catalog`` and whose Parquet files live under ``data_path``, a path
    every worker reaches (decision 0011); ``path`` then only places the serving copy beside it."""

    type: Literal["duckdb", "ducklake"] = "duckdb"
    path: str = "data/warehouse.duckdb"
    catalog: str | None = None
    data_path: str | None = None
    metadata_schema: str = "lake"

    @field_validator("path", "data_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and "'" in value:
            raise ValueError("a warehouse path may not contain a single quote (')")
        if value is not None and "://" in value:
            raise ValueError(f"'{value.split('://')[0]}://' is not supported: a warehouse path is a directory "
                             "path (local, or a shared mount every worker reaches; object storage: "
                             "docs/decisions/0012-scale-out.md)")
        return expand_path(value) or value

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: str | None) -> str | None:
        if value is not None and not _CONN_ID.fullmatch(value):
            raise ValueError(f"'{value}' is not an Airflow connection id (letters, digits, _ . -)")
        return value

    @field_validator("metadata_schema")
    @classmethod
    def _metadata_schema(cls, value: str) -> str:
        if not _LAKE_NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a PostgreSQL schema name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _type_fields(self) -> Warehouse:
        if self.type == "ducklake":
            missing = [name for name in ("catalog", "data_path") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"warehouse type ducklake needs {' and '.join(missing)} (catalog: the Airflow "
                                 "connection to its PostgreSQL catalog; data_path: where its Parquet files live)")
        elif self.catalog is not None or self.data_path is not None:
            raise ValueError("catalog and data_path belong to warehouse type ducklake")
        return self


class DbtBlock(StrictModel):
    project_dir: str = "dbt"
    target: str = "dev"

    @field_validator("project_dir")
    @classmethod
    def _project_dir(cls, value: str) -> str:
        return expand_path(value) or value


class Defaults(StrictModel):
    schedule: str | None = None
    start_date: date | datetime = date(2024, 1, 1)
    write_disposition: WriteDisposition | None = None
    lookback_days: Annotated[int, Field(ge=0)] = 0
    empty_sync_policy: EmptySyncPolicy = "fail"
    on_duplicate_keys: DuplicateKeys = "keep_last"
    #: a file modified less than this many seconds ago may still be being written: it waits for the next run
    settle_seconds: Annotated[int, Field(ge=0, le=86400)] = 0
    retries: Annotated[int, Field(ge=0, le=20)] = 2
    retry_delay: str = Field(default="30s", description="Wait between a failed task and its retry.")
    schema_drift: SchemaDriftPolicy = Field(
        default_factory=lambda: SchemaDriftPolicy(on_additive="evolve", on_breaking="block"))
    pii: PIIPolicy = Field(default_factory=lambda: PIIPolicy(policy="report", sample_size=100,
                                                             nlp_model="en_core_web_sm"))
    freshness: Freshness = Field(default_factory=Freshness)
    alerts: list[Alert] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _check_schedule(value)

    @field_validator("retry_delay")
    @classmethod
    def _retry_delay(cls, value: str) -> str:
        parse_duration(value)
        return value


class Transform(StrictModel):
    schedule: str | None = Field(
        default=None, description="Cron for dango_transform; by default it runs when any source has loaded."
    )
    governance_timeout: str = Field(
        default="6h", description="How long the transform waits for blocked schema changes to be accepted."
    )
    poll_interval: str = Field(default="30s", description="How often governance sensors check again.")
    build: Literal["all", "changed"] = Field(
        default="all",
        description="What a run started by loads rebuilds: 'all' (the whole project) or 'changed' (only what "
                    "depends on the sources that loaded). A run triggered with conf {\"sources\": [...]} "
                    "rebuilds what depends on those sources.",
    )

    @field_validator("governance_timeout", "poll_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _check_schedule(value)


class SourcesFile(StrictModel):
    version: str | int | float = "1.0"
    warehouse: Warehouse = Field(default_factory=Warehouse)
    dbt: DbtBlock = Field(default_factory=DbtBlock)
    defaults: Defaults = Field(default_factory=Defaults)
    transform: Transform = Field(default_factory=Transform)
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        seen: dict[str, int] = {}
        for index, source in enumerate(self.sources):
            if source.name in seen:
                raise DuplicateSourceName(source.name, seen[source.name], index)
            seen[source.name] = index
        return self

    @model_validator(mode="after")
    def _default_lookback(self) -> SourcesFile:
        if not self.defaults.lookback_days:
            return self
        for source in self.sources:
            if (source.lookback_days is None and not source.is_file_source
                    and (source.write_disposition or self.defaults.write_disposition) == "append"):
                raise ValueError(
                    f"defaults.lookback_days ({self.defaults.lookback_days}) would make source '{source.name}' "
                    "(write_disposition append) load the days before each interval twice; "
                    f"set lookback_days: 0 on source '{source.name}' or use merge"
                )
        return self


class DuplicateSourceName(ValueError):
    def __init__(self, name: str, first: int, second: int):
        self.index = second
        super().__init__(f"duplicate source name '{name}' (also used by sources[{first}]); source names must be unique")


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)},
    {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
)


def _cron_field_ok(text: str, low: int, high: int, names: dict[str, int]) -> bool:
    for part in text.lower().split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if span == "*":
            continue
        bounds = span.split("-")
        if len(bounds) > 2:
            return False
        found = [names.get(b, int(b) if b.isdigit() else None) for b in bounds]
        values = [v for v in found if v is not None]
        if len(values) < len(found) or any(not low <= v <= high for v in values) or values != sorted(values):
            return False
    return True


def _check_schedule(value: str | None) -> str | None:
    if value is None or value in _CRON_PRESETS:
        return value
    fields = value.split()
    if len(fields) != 5 or not all(
        _cron_field_ok(f, lo, hi, names) for f, (lo, hi), names in zip(fields, _CRON_RANGES, _CRON_NAMES)
    ):
        raise ValueError(
            f"'{value}' is not a schedule; use a cron expression such as '0 6 * * *' or one of "
            + ", ".join(sorted(_CRON_PRESETS))
        )
    return value


#: Dango types whose sync replaces the tables (Dango 1.0.13's REPLACE_MODE_SOURCE_TYPES, the ones we run)
DANGO_REPLACE_MODE_TYPES = ("csv", "local_files", "postgres", "mysql", "github", "hubspot")
#: of those, the ones whose reads here are whole (every file, every row of a table without a cursor), so a
#: Dango project's source of that type replaces its tables as in Dango; the GitHub and HubSpot presets read
#: incrementally, where replacing would drop the rows not read again
DANGO_REPLACED_HERE = ("csv", "local_files", "postgres", "mysql")


def dango_write_disposition(defaults: Defaults, source: Source, *, dango_project: bool) -> str | None:
    """``replace`` when Dango's meaning applies: a Dango project's source of a type Dango replaces on every
    sync (deletes at the source, or a deleted file, then disappear here too), and no write_disposition set
    on the source or in ``defaults``. None otherwise (the source's own rules decide)."""
    if source.write_disposition or defaults.write_disposition:
        return None
    return "replace" if dango_project and source.type in DANGO_REPLACED_HERE else None


def compatibility_notes(defaults: Defaults, source: Source, *, dango_project: bool) -> list[str]:
    """One line per way this source behaves differently here than in Dango (shown by ``dango validate`` and
    in the DAG's documentation). ``dango_project``: the file is a Dango project's ``.dango/sources.yml``,
    whose users expect Dango's meaning of its defaults."""
    notes = []
    if source.lookback_days and source.is_file_source:
        notes.append(f"lookback_days is ignored: a {source.type} source reads its new and changed files")
    options = source.options
    if source.type == "dlt_native" and (options.pipeline_name or options.dataset_name):
        notes.append(f"dlt_native pipeline_name/dataset_name are ignored: the pipeline is dango_{source.name} and "
                     f"the dataset raw_{source.name}")
    if source.type == "hubspot" and options.not_read:
        notes.append(f"HubSpot resources {', '.join(options.not_read)} are not read by this version (CRM objects "
                     "only)")
    if source.type == "rest_api" and options.unauthenticated_bearer:
        notes.append("auth_type bearer names no token variable (auth_token_env) or conn_id: requests are sent "
                     "without authentication")
    if dango_project and (source.empty_sync_policy or defaults.empty_sync_policy) == "allow":
        notes.append("empty_sync_policy allow skips a sync that finds nothing and keeps the tables (Dango empties "
                     "them)")
    if (dango_project and source.type in DANGO_REPLACE_MODE_TYPES and source.type not in DANGO_REPLACED_HERE
            and not (source.write_disposition or defaults.write_disposition)):
        notes.append("Dango replaces this type's tables on every sync; here new and changed data is merged or "
                     "appended, so rows deleted at the source stay (set write_disposition: replace for Dango's "
                     "behaviour)")
    return notes


def effective_drift_policy(defaults: Defaults, source: Source) -> tuple[str, str]:
    """(on_additive, on_breaking) for a source: its own block over ``defaults`` over evolve/block."""
    own = source.schema_drift or SchemaDriftPolicy()
    return (own.on_additive or defaults.schema_drift.on_additive or "evolve",
            own.on_breaking or defaults.schema_drift.on_breaking or "block")


def effective_pii_policy(defaults: Defaults, source: Source) -> PIIPolicy:
    own = source.pii or PIIPolicy()
    base = defaults.pii
    return PIIPolicy(
        policy=own.policy or base.policy or "report",
        sample_size=own.sample_size or base.sample_size or 100,
        methods={**base.methods, **own.methods},
        columns={**base.columns, **own.columns},
        nlp_model=own.nlp_model or base.nlp_model,
    )


def loaded_at_field(source: Source) -> str | None:
    return source.freshness.loaded_at_field if source.freshness else None


def effective_freshness(defaults: Defaults, source: Source) -> tuple[timedelta | None, timedelta | None]:
    own = source.freshness or Freshness()
    warn = own.warn_after or defaults.freshness.warn_after
    error = own.error_after or defaults.freshness.error_after
    return (parse_duration(warn) if warn else None, parse_duration(error) if error else None)


def effective_alerts(defaults: Defaults, source: Source, event: str) -> list[Alert]:
    """The alerts ``source`` sends for ``event``: its own list when it has one, else ``defaults.alerts``."""
    alerts = defaults.alerts if source.alerts is None else source.alerts
    return [alert for alert in alerts if event in alert.events]

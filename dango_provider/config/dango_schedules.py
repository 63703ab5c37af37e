"""Dango's ``.dango/schedules.yml``: sync schedules become the ingest DAGs' schedules and dbt schedules
``dango_transform``'s, each with its time zone. Pure code; read with Dango's own rules (presets such as
``daily``, ``sync``/``sync_only`` list their sources, ``dbt`` carries a ``dbt_command``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from dango_provider.exceptions import DangoConfigError

#: Dango 1.0.13's cron presets
CRON_PRESETS = {"every_15m": "*/15 * * * *", "every_hour": "0 * * * *", "every_6h": "0 */6 * * *",
                "daily": "0 6 * * *", "weekly": "0 6 * * 1"}


@dataclass(frozen=True)
class DangoSchedule:
    name: str
    type: str
    cron: str
    sources: tuple[str, ...] = ()
    timezone: str = "UTC"
    enabled: bool = True


@dataclass(frozen=True)
class DangoSchedules:
    schedules: tuple[DangoSchedule, ...] = field(default_factory=tuple)

    def for_source(self, name: str) -> list[DangoSchedule]:
        """The enabled sync schedules that list the source (an ingest DAG runs on the first)."""
        return [s for s in self.schedules
                if s.enabled and s.type in ("sync", "sync_only") and name in s.sources]

    @property
    def transform(self) -> DangoSchedule | None:
        """The first enabled dbt schedule: dango_transform's cron."""
        return next((s for s in self.schedules if s.enabled and s.type == "dbt"), None)


def read_dango_schedules(project_root: Path) -> DangoSchedules:
    path = project_root / ".dango" / "schedules.yml"
    if not path.exists():
        return DangoSchedules()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DangoConfigError(f"malformed YAML: {exc}", file=str(path)) from None
    entries = data.get("schedules") or [] if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DangoConfigError("'schedules' must be a list", file=str(path))
    schedules = []
    for index, entry in enumerate(entries):
        where = f"schedules[{index}]"
        if not isinstance(entry, dict) or "cron" not in entry or "name" not in entry:
            raise DangoConfigError("each schedule needs a name and a cron", file=str(path), field=where)
        cron = CRON_PRESETS.get(str(entry["cron"]), str(entry["cron"]))
        if len(cron.split()) != 5:
            raise DangoConfigError(f"'{entry['cron']}' is not a cron expression", file=str(path), field=f"{where}.cron")
        timezone = entry.get("timezone") or "UTC"
        try:
            ZoneInfo(timezone)
        except Exception:
            raise DangoConfigError(f"unknown time zone '{timezone}'", file=str(path),
                                   field=f"{where}.timezone") from None
        schedules.append(DangoSchedule(name=str(entry["name"]), type=str(entry.get("type", "sync")), cron=cron,
                                       sources=tuple(entry.get("sources") or ()), timezone=timezone,
                                       enabled=bool(entry.get("enabled", True))))
    return DangoSchedules(tuple(schedules))

"""Timestamps read back from state files and the serving copy."""

from __future__ import annotations

from datetime import UTC, date, datetime


def parse_utc(value: str | None) -> datetime | None:
    """An ISO timestamp as an aware datetime (naive ones are UTC); None when empty or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_utc(value: date | datetime) -> datetime:
    """A date (its midnight) or a datetime as an aware UTC datetime; naive values are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

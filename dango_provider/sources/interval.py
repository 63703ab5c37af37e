"""The slice of source data one run loads: Airflow's data interval, or the stored cursor."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dango_provider.core.times import as_utc


@dataclass(frozen=True)
class Interval:
    """``start``/``end`` come from the run's ``data_interval_start``/``data_interval_end``.

    A bounded interval makes an incremental source read exactly ``[start, end)`` and leaves its stored
    cursor alone, so backfills and re-runs of an interval are idempotent. A run without an interval
    (a manual trigger with no logical date) continues from the stored cursor. ``full_refresh`` reads
    everything again from the source's start date and replaces the tables once the new load commits.
    """

    start: datetime | None = None
    end: datetime | None = None
    full_refresh: bool = False

    @property
    def bounds_utc(self) -> tuple[datetime, datetime]:
        """``(start, end)`` in UTC of a bounded interval."""
        if self.start is None or self.end is None:
            raise ValueError("the interval has no bounds")
        return as_utc(self.start), as_utc(self.end)

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.end is not None and self.start < self.end

    def looking_back(self, days: int) -> Interval:
        """This interval with its start ``days`` earlier (``lookback_days``: late-arriving changes of the
        days before are read again and merged on the keys). Unbounded and full-refresh runs are unchanged."""
        if not days or self.start is None or not self.bounded or self.full_refresh:
            return self
        return replace(self, start=self.start - timedelta(days=days))

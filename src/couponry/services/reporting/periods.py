"""A reporting period: whole days from `from` to `to` (inclusive) in the shop's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from couponry.domain.errors import InvalidInput

MAX_DAYS = 3660
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)  # every zone's day boundaries stay datetimes


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(), self.zone).astimezone(UTC)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "timezone": self.timezone}


def _day(name: str, value: str, zone: ZoneInfo) -> date:
    """A date (2026-11-01), or an RFC 3339 time taken as the day it falls on in the shop's zone."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if at.tzinfo is None:
        raise InvalidInput(name, "an RFC 3339 time needs an offset")
    return at.astimezone(zone).date()


def period(start: str | None, end: str | None, timezone: str, now: datetime, first: datetime) -> Period:
    """The period asked for; by default from the day of `first` (the campaign's creation) to today."""
    zone = ZoneInfo(timezone)
    to = _day("to", end, zone) if end else now.astimezone(zone).date()
    since = _day("from", start, zone) if start else min(first.astimezone(zone).date(), to)
    for name, day in (("from", since), ("to", to)):
        if not EARLIEST <= day <= LATEST:
            raise InvalidInput(name, f"must lie between {EARLIEST} and {LATEST}")
    if to < since:
        raise InvalidInput("to", "must not be before from")
    if (to - since).days >= MAX_DAYS:
        raise InvalidInput("to", f"a period spans at most {MAX_DAYS} days")
    return Period(since, to, timezone)

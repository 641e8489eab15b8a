"""The days of a channel's log: bounds, neighbours with lines, a month's calendar.

Every question is an index seek on (channel, time), never a scan of the channel's
lines, so the pages stay fast on channels with millions of lines.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from botadmin.models import Channel, LogLine

PAGE_SIZE = 500


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_lines(channel: Channel, day: date) -> QuerySet[LogLine]:
    """Return a readable channel's lines of one day, redacted by the policy."""
    start = day_start(day)
    return (
        LogLine.objects.redacted()
        .filter(channel=channel, time__gte=start, time__lt=start + timedelta(days=1))
        .order_by("time", "id")
    )


def first_time_from(channel: Channel, moment: datetime) -> datetime | None:
    lines = LogLine.objects.filter(channel=channel, time__gte=moment).order_by("time")
    return lines.values_list("time", flat=True).first()


def last_time_before(channel: Channel, moment: datetime) -> datetime | None:
    lines = LogLine.objects.filter(channel=channel, time__lt=moment).order_by("-time")
    return lines.values_list("time", flat=True).first()


def previous_day(channel: Channel, day: date) -> date | None:
    moment = last_time_before(channel, day_start(day))
    return moment.astimezone(UTC).date() if moment else None


def next_day(channel: Channel, day: date) -> date | None:
    moment = first_time_from(channel, day_start(day + timedelta(days=1)))
    return moment.astimezone(UTC).date() if moment else None


def days_with_lines(channel: Channel, first: date, last: date) -> set[date]:
    """Find the days in [first, last] that have lines: one seek per such day."""
    days: set[date] = set()
    moment = first_time_from(channel, day_start(first))
    while moment is not None and moment.astimezone(UTC).date() <= last:
        day = moment.astimezone(UTC).date()
        days.add(day)
        moment = first_time_from(channel, day_start(day + timedelta(days=1)))
    return days


def page_of(line: LogLine) -> int:
    """Tell which page of its day a line is on, for permalinks."""
    day = line.time.astimezone(UTC).date()
    earlier = day_lines(line.channel, day).filter(time__lt=line.time).count()
    same_time = day_lines(line.channel, day).filter(time=line.time, id__lt=line.id).count()
    return (earlier + same_time) // PAGE_SIZE + 1


@dataclass(frozen=True)
class Month:
    """A month's calendar with its days that have lines, and the nearest months with lines."""

    first: date
    weeks: list[list[tuple[date, bool]]]
    previous: date | None
    next: date | None


def month_calendar(channel: Channel, first: date) -> Month:
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    busy = days_with_lines(channel, first, last)
    weeks = [
        [(day, day in busy) for day in week]
        for week in calendar.Calendar().monthdatescalendar(first.year, first.month)
    ]
    before = previous_day(channel, first)
    after = next_day(channel, last)
    return Month(
        first,
        weeks,
        before.replace(day=1) if before else None,
        after.replace(day=1) if after else None,
    )

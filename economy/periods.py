"""Payroll periods: ISO weeks in UTC, named like `2026-W48` (Monday 00:00 to the next Monday 00:00)."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from directorate.errors import Invalid

PERIOD_NAME = re.compile(r"([0-9]{4})-W([0-9]{2})")
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    name: str
    start: datetime
    end: datetime  # exclusive: the start of the next week

    def __str__(self):
        return self.name

    @property
    def last_day(self):
        return (self.end - timedelta(days=1)).date()


def week_of(day):
    """The ISO week that contains the date `day`."""
    year, week, _ = day.isocalendar()
    start = datetime.combine(date.fromisocalendar(year, week, 1), time(), tzinfo=UTC)
    return Period(name=f"{year:04d}-W{week:02d}", start=start, end=start + WEEK)


def last_completed_period(moment):
    """The latest week that ended at or before `moment`."""
    return week_of(moment.astimezone(UTC).date() - WEEK)


def parse_period(text, *, moment):
    """The completed week named by `text` (exactly `YYYY-Www`), or Invalid."""
    match = PERIOD_NAME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise Invalid(f"A period is an ISO week written like 2026-W48, not {text!r}.")
    year, week = int(match[1]), int(match[2])
    not_ended = Invalid(f"{text} has not ended yet: payroll pays completed weeks only.")
    try:
        period = week_of(date.fromisocalendar(year, week, 1))
    except ValueError:
        raise Invalid(f"{text} is not a week: {year:04d} has no week {week:02d}.") from None
    except OverflowError:  # the last week of year 9999 ends past the calendar
        raise not_ended from None
    if period.end > moment:
        raise not_ended
    return period


def payroll_period(name, *, moment):
    """The week named `name`, or when `name` is None the last week completed at `moment`."""
    return last_completed_period(moment) if name is None else parse_period(name, moment=moment)

"""Parsing of the times and durations clients send (AFTER, DESTRUCTION, EXECUTIONDURATION, WAIT)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import InvalidValue

_AFTER = re.compile(
    r"^(\d{4})(?:-?(\d{2})(?:-?(\d{2})"
    r"(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?)?)?)?(Z)?$"
)
AFTER_FORM = (
    "a UTC date and time such as 2015-10-26T09:15:35Z (from 2015 to 2015-10-26T09:15:35.123Z)"
)


def parse_after(name: str, text: str) -> datetime:
    """A UTC time in one of the forms UWS clients use; other offsets are refused."""
    m = _AFTER.match(text.strip())
    if not m:
        raise InvalidValue(name, AFTER_FORM, text)
    year, month, day, hour, minute, second, fraction, _z = m.groups()
    try:
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=timezone.utc,
        )
    except ValueError:
        raise InvalidValue(name, AFTER_FORM, text) from None


def parse_datetime(name: str, text: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC; converted to UTC."""
    raw = text.strip()
    try:
        if _AFTER.match(raw):
            return parse_after(name, raw)
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(
            name, "an ISO 8601 date and time such as 2026-12-31T12:00:00Z", text
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC
        # ... and 0001-01-01T00:00:00+01:00 in the year 0: say which end was passed.
        bound = "before the year 10000" if value.year > 1 else "from the year 1 on"
        raise InvalidValue(name, f"a date and time {bound} in UTC", text) from None


#: The largest integer a client may send: what every storage keeps in an INTEGER column.
INT_MAX = 2**31 - 1


def parse_int(name: str, text: str, minimum: int, expected: str, maximum: int = INT_MAX) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidValue(name, expected, text) from None
    if value < minimum:
        raise InvalidValue(name, expected, text)
    if value > maximum:
        raise InvalidValue(name, f"{expected}, at most {maximum}", text)
    return value


def ended_at(
    recorded: str | None, started: datetime | None, now: datetime | None = None
) -> datetime:
    """A job's endTime from its exit record (UTC, whole seconds), for ends noticed late (a
    restart, an outage): the record's time when it is clearly past, else ``now`` (more
    precise); never before ``started``."""
    now = now or datetime.now(timezone.utc)
    value = now
    if recorded:
        try:
            written = parse_after("ended", recorded)
        except InvalidValue:
            written = None
        if written is not None and (now - written).total_seconds() > 1.0:
            value = written
    if started is not None and value < started:
        value = started
    return value

"""Filter values from untrusted input (CLI, JSON, the query syntax, the UI), one at a time.

Each parser forces a value to the scalar type its filter expects, or raises
`InvalidFilterError`: a list of names, an integer, a page range, a date bound.
`SearchFilters.from_mapping` and the query syntax build their filters with them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from searchapp.errors import InvalidFilterError

MAX_EPOCH_S = 32_503_680_000  # 3000-01-01 UTC: a larger timestamp is milliseconds, not seconds
MAX_LIST_ITEMS = 1000  # values of one list-valued filter (tags, types, documents)


def at_most(name: str, count: int, most: int = MAX_LIST_ITEMS) -> None:
    """Refuse a list of `count` values for filter `name` when it holds more than `most`.

    Called with the count alone, before any value is read: an over-long list costs its
    sender a 400, never the server per-value work.
    """
    if count > most:
        raise InvalidFilterError(f"filter {name!r} takes at most {most} values; got {count}")


def string_tuple(name: str, value: Any) -> tuple[str, ...]:
    """A string or a list of at most `MAX_LIST_ITEMS` strings, each stripped, non-empty and
    kept once, in order."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list | tuple | set | frozenset):
        at_most(name, len(value))
        items = list(value)
    else:
        raise InvalidFilterError(
            f"filter {name!r} expects a string or a list of strings; got {type(value).__name__}"
        )
    out: dict[str, None] = {}  # a dict keeps the order and finds a repeat in constant time
    for item in items:
        if not isinstance(item, str):
            raise InvalidFilterError(
                f"filter {name!r} expects strings; got {type(item).__name__} {item!r}"[:200]
            )
        item = item.strip()
        if not item:
            raise InvalidFilterError(
                f"filter {name!r} holds an empty value; give each one as non-empty text, "
                "or leave the filter out"
            )
        out[item] = None
    return tuple(out)


def one_value(name: str, value: Any, other: Any, *, first: str, second: str) -> Any:
    """A single-valued filter (a page bound, a date bound, "text contains") set in two places:
    the one that is set, or both when they agree; `first` and `second` say where each came
    from ("as an option", "in the query", "from pages '2-3'").

    Raises:
        InvalidFilterError: both are set, differently.
    """
    unset = (None, "")
    if value not in unset and other not in unset and value != other:
        raise InvalidFilterError(
            f"{name} is given twice with different values ({value!r} {first}, {other!r} {second}); "
            "give it once"
        )
    return value if value not in unset else other


def integer(name: str, value: Any) -> int:
    """An integer, or one written in digits; never a bool."""
    if isinstance(value, bool):
        raise InvalidFilterError(f"filter {name!r} expects an integer; got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InvalidFilterError(
        f"filter {name!r} expects an integer; got {type(value).__name__} {value!r}"[:200]
    )


def parse_page_range(value: Any) -> tuple[int | None, int | None]:
    """'3-7' -> (3, 7); '5' -> (5, 5); '3-' -> (3, None); [3, 7] -> (3, 7)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        low = None if value[0] in (None, "") else integer("pages", value[0])
        high = None if value[1] in (None, "") else integer("pages", value[1])
        return low, high
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d*)\s*(?:(-)\s*(\d*))?\s*", value)
        if match and (match.group(1) or match.group(3)):
            low = int(match.group(1)) if match.group(1) else None
            high = int(match.group(3)) if match.group(3) else None
            if not match.group(2):
                high = low
            return low, high
    raise InvalidFilterError(f"page range must look like '3-7', '5' or '3-'; got {value!r}"[:200])


def parse_time_bound(value: Any, *, end_of_day: bool) -> int:
    """Epoch seconds from an int, an ISO date ('2026-11-21') or datetime, or a date object.

    A bare date as an upper bound means the end of that day (local time).
    """
    if isinstance(value, bool):
        raise InvalidFilterError(f"a date filter expects a date; got {value!r}")
    if isinstance(value, int):
        return _seconds(value)
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dt.date):
        return _day_bound(value, end_of_day)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _seconds(int(text))
        try:
            if len(text) == 10:
                return _day_bound(dt.date.fromisoformat(text), end_of_day)
            return int(dt.datetime.fromisoformat(text).timestamp())
        except ValueError:
            pass
    raise InvalidFilterError(f"a date filter expects YYYY-MM-DD or epoch seconds; got {value!r}"[:200])


def _seconds(value: int) -> int:
    """Epoch seconds as given, unless they are plainly milliseconds (after the year 3000)."""
    if value > MAX_EPOCH_S:
        raise InvalidFilterError(
            f"a date filter takes epoch seconds; {value} would be after the year 3000, so it looks "
            f"like milliseconds: divide by 1000 (or give a date, YYYY-MM-DD)"
        )
    return value


def _day_bound(day: dt.date, end_of_day: bool) -> int:
    moment = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
    return int(moment.timestamp())

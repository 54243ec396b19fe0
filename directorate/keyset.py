"""Keyset pagination by (time, id), newest first: the one pagination of lists that grow without end (tickets,
ledgers, notifications, the audit log), for pages and the API alike.

The cursor is opaque to clients: the base64 of "<iso time>|<id>" of the last item of a page. A broken
cursor is refused as Invalid (HTTP 400) at the field `after`. The cost of page N does not grow with N,
unlike OFFSET, and a row added while someone reads is never shown twice nor skipped. Rows may be models or
dicts (`.values()`). Pages show "First page" and "Next page" (templates/includes/pager.html).
"""

import base64
import binascii
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Q

from directorate.errors import Invalid

BROKEN = "That page link is broken; start from the first page."


class Page(NamedTuple):
    """One page: its rows, and the cursor of the next page (None on the last)."""

    items: list[Any]
    next_cursor: str | None


def encode(moment, item_id):
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{item_id}".encode()).decode().rstrip("=")


def decode(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, last_id = raw.split("|")
        moment = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid(BROKEN, field_errors={"after": [BROKEN]}) from None
    if moment.tzinfo is None or len(last_id) != 24:
        raise Invalid(BROKEN, field_errors={"after": [BROKEN]})
    return moment, last_id


def page(queryset, *, field, cursor=None, size=25, oldest_first=False):
    """Page(items, next_cursor): up to `size` rows of `queryset` newest first by `field` (oldest first with
    `oldest_first`), after `cursor`."""
    if oldest_first:
        rows = queryset.order_by(field, "id")
    else:
        rows = queryset.order_by(f"-{field}", "-id")
    if cursor:
        moment, last_id = decode(cursor)
        after = "gt" if oldest_first else "lt"
        rows = rows.filter(Q(**{f"{field}__{after}": moment}) | Q(**{field: moment, f"id__{after}": last_id}))
    items = list(rows[: size + 1])
    next_cursor = encode(*_position(items[size - 1], field)) if len(items) > size else None
    return Page(items[:size], next_cursor)


def _position(item, field):
    """(time, id) of a listed row: a model, or a dict of `.values()`."""
    if isinstance(item, dict):
        return item[field], item["id"]
    return getattr(item, field), item.id

"""Keyset pagination by (time, id), newest first, for lists the JSON API pages through.

The cursor is opaque to clients: the base64 of "<iso time>|<id>" of the last item of a page. A broken
cursor is refused as Invalid (HTTP 400). Tickets have their own in `tickets/selectors.py` (the same format).
"""

import base64
import binascii
from datetime import datetime

from django.db.models import Q

from directorate.errors import Invalid

BROKEN = "That page link is broken; start from the first page."


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


def page(queryset, *, field, cursor=None, size=25):
    """(items, next_cursor): up to `size` rows of `queryset` newest first by `field`, after `cursor`."""
    rows = queryset.order_by(f"-{field}", "-id")
    if cursor:
        moment, last_id = decode(cursor)
        rows = rows.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "id__lt": last_id}))
    items = list(rows[: size + 1])
    next_cursor = encode(getattr(items[size - 1], field), items[size - 1].id) if len(items) > size else None
    return items[:size], next_cursor

"""CSV downloads: streamed, UTF-8, and safe to open in a spreadsheet.

The rows are read in batches in a worker thread and sent as they are written, through an asynchronous
iterator: under the ASGI server a synchronous one would be read whole before the first byte is sent.
"""

import csv
import itertools
from datetime import UTC

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value):
    """A text cell a spreadsheet shows as text: one that could start a formula gets a leading apostrophe.

    Apply it to text columns only; numbers (credits of -5) stay numbers.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def utc_time(moment):
    """A time cell: ISO 8601 in UTC to the millisecond, as stored ("2026-01-31T09:15:00.250Z")."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Line:
    """The pseudo-buffer csv.writer writes one line to; the line is handed back, not kept."""

    def write(self, line):
        return line


def csv_download(rows, *, filename):
    """A streaming CSV attachment of `rows` (an iterable of lists; the first is the header)."""
    writer = csv.writer(_Line())
    rows = iter(rows)
    next_batch = sync_to_async(lambda: "".join(writer.writerow(row) for row in itertools.islice(rows, BATCH)))

    async def lines():
        while text := await next_batch():
            yield text.encode("utf-8")

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)  # any name, quoted or encoded
    return response

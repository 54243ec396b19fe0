"""The live event log: every event sent to a member's open pages and API sockets, in commit order.

Rows are written once the writing unit has committed (`directorate.events.publish`), numbered by `seq`, which
grows in commit order: a new row takes the largest number plus one inside its own atomic unit, and the unique
constraint refuses a second row with the same number (the loser retries). Server processes relay new rows to
their sockets (`live.relay`), and API clients ask for what they missed since a number (`docs/api.md`).
Rows older than `LIVE_EVENT_RETENTION` are deleted by the worker.
"""

from django.db import models

from directorate.db import ObjectIdModel, now


class LiveEvent(ObjectIdModel):
    seq = models.BigIntegerField(unique=True)
    recipient_id = models.CharField(max_length=24)
    event = models.CharField(max_length=40)
    data = models.JSONField()
    at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["recipient_id", "seq"], name="live_event_recipient_seq"),
            models.Index(fields=["at"], name="live_event_at"),
        ]

    def __str__(self):
        return f"{self.seq} {self.event} -> {self.recipient_id}"

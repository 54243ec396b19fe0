"""Existing installs: the daily review totals (closed tickets per UTC day of the close, assignee's rank and
review-time bucket, with those escalated) built once from the closed tickets and their approval logs.

The bucketing is a frozen copy of `tickets.review_totals.bucket_of` as it was when this migration was written."""

import math
from collections import defaultdict
from datetime import UTC, timedelta

from django.db import migrations

GROWTH = 1.02
NOT_REVIEWED = -1
ESCALATING = ("escalated", "recommended")
BATCH = 5000


def bucket_of(latency):
    if latency is None:
        return NOT_REVIEWED
    seconds = latency.total_seconds()
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log(seconds) / math.log(GROWTH))


def build_from_tickets(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    ApprovalStep = apps.get_model("tickets", "ApprovalStep")
    ReviewDay = apps.get_model("tickets", "ReviewDay")
    ReviewDay.objects.all().delete()
    escalated = set(
        ApprovalStep.objects.filter(decision__in=ESCALATING, ticket__status="closed")
        .values_list("ticket_id", flat=True)
        .distinct()
    )
    sums = defaultdict(lambda: [0, 0])
    rows = Ticket.objects.filter(status="closed", closed_at__isnull=False).values_list(
        "id", "assignee__rank", "submitted_at", "closed_at"
    )
    for ticket_id, rank, submitted_at, closed_at in rows.iterator(chunk_size=BATCH):
        latency = None if submitted_at is None else max(closed_at - submitted_at, timedelta(0))
        total = sums[(closed_at.astimezone(UTC).date(), rank, bucket_of(latency))]
        total[0] += 1
        total[1] += ticket_id in escalated
    ReviewDay.objects.bulk_create(
        [
            ReviewDay(day=day, rank=rank, bucket=bucket, closed=closed, escalated=escalated_count)
            for (day, rank, bucket), (closed, escalated_count) in sums.items()
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0007_review_day"),
    ]

    operations = [migrations.RunPython(build_from_tickets, migrations.RunPython.noop, elidable=True)]

"""Existing installs: the daily ledger totals (per day, rank and type; per member and day) built once from the
ledger, each entry under its member's rank."""

from datetime import datetime

from django.db import migrations
from django.db.models import Count, Sum
from django.db.models.functions import TruncDay

BATCH = 5000


def as_date(value):
    return value.date() if isinstance(value, datetime) else value


def build_from_ledger(apps, schema_editor):
    Transaction = apps.get_model("economy", "Transaction")
    LedgerDay = apps.get_model("economy", "LedgerDay")
    LedgerMemberDay = apps.get_model("economy", "LedgerMemberDay")
    LedgerDay.objects.all().delete()
    LedgerMemberDay.objects.all().delete()
    by_day = (
        Transaction.objects.annotate(day=TruncDay("ts"))
        .values("day", "user__rank", "type")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"), entries=Count("id"))
        .order_by()
    )
    LedgerDay.objects.bulk_create(
        [
            LedgerDay(
                day=as_date(row["day"]),
                rank=row["user__rank"],
                type=row["type"],
                credits=row["credits"] or 0,
                pay=row["pay"] or 0,
                entries=row["entries"],
            )
            for row in by_day
        ],
        batch_size=1000,
    )
    by_member = (
        Transaction.objects.annotate(day=TruncDay("ts"))
        .values("user_id", "day", "user__rank")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"))
        .order_by()
    )
    batch = []
    for row in by_member.iterator(chunk_size=BATCH):
        batch.append(
            LedgerMemberDay(
                user_id=row["user_id"],
                day=as_date(row["day"]),
                rank=row["user__rank"],
                credits=row["credits"] or 0,
                pay=row["pay"] or 0,
            )
        )
        if len(batch) == BATCH:
            LedgerMemberDay.objects.bulk_create(batch, batch_size=1000)
            batch = []
    LedgerMemberDay.objects.bulk_create(batch, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("economy", "0006_daily_ledger_totals"),
    ]

    operations = [migrations.RunPython(build_from_ledger, migrations.RunPython.noop, elidable=True)]

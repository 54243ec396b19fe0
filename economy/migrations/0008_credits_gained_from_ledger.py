"""Existing installs: every member's credits gained (the sum of their ledger entries' positive credits), built
once from the ledger."""

from django.db import migrations
from django.db.models import Sum

BATCH = 500


def build_from_ledger(apps, schema_editor):
    Transaction = apps.get_model("economy", "Transaction")
    User = apps.get_model("accounts", "User")
    gained = dict(
        Transaction.objects.filter(amount_cr__gt=0)
        .values("user_id")
        .annotate(gained=Sum("amount_cr"))
        .values_list("user_id", "gained")
        .order_by()
    )
    people = []
    for person in User.objects.only("id", "credits_gained"):
        if person.credits_gained != gained.get(person.id, 0):
            person.credits_gained = gained.get(person.id, 0)
            people.append(person)
    for start in range(0, len(people), BATCH):
        User.objects.bulk_update(people[start : start + BATCH], ["credits_gained"])


class Migration(migrations.Migration):
    dependencies = [
        ("economy", "0007_daily_totals_from_ledger"),
        ("accounts", "0008_analytics_at_scale"),
    ]

    operations = [migrations.RunPython(build_from_ledger, migrations.RunPython.noop, elidable=True)]

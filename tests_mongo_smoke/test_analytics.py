"""Economy analytics and the ledger download on the MongoDB backend: every query of the dashboard compiles
for MongoDB (day and week buckets as `$dateTrunc`, sums per group, a distinct count), and those mongomock
can evaluate run for real. The rest stop short of mongomock, for the gaps test_compile_only.py lists:
joins (`$lookup` with a pipeline) and aggregates without GROUP BY (`$type`, `$unionWith`)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import User
from analytics import selectors
from analytics.selectors import Filters
from desk.selectors import ledger_for_export
from economy.models import Transaction
from tests_mongo_smoke.conftest import compile_only, stages
from tests_mongo_smoke.test_compile_only import mongomock_refuses
from tickets.models import ApprovalStep, Ticket

PERIOD = Filters(start=date.today() - timedelta(days=29), end=date.today())


def entries_in_reach(viewer, filters=PERIOD):
    return Transaction.objects.filter(
        selectors.members_in_reach(viewer, filters.rank, through="user__"),
        ts__gte=filters.since,
        ts__lt=filters.until,
    )


@pytest.mark.parametrize(("interval", "unit"), [("day", "day"), ("week", "week")])
def test_buckets_are_truncated_by_the_database(org, interval, unit):
    filters = Filters(start=PERIOD.start, end=PERIOD.end, interval=interval)
    collection, pipeline = compile_only(
        lambda: selectors._ledger_by_bucket(entries_in_reach(org["marshal"], filters), filters)
    )
    assert collection == "economy_transaction"
    (group,) = stages(pipeline, "$group")
    (truncated,) = [key["$dateTrunc"] for key in group["_id"].values() if isinstance(key, dict)]
    assert (truncated["unit"], truncated["startOfWeek"], truncated["timezone"]) == (unit, "mon", "UTC")
    assert group["_id"]["type"] == "$type"
    assert {lookup["from"] for lookup in stages(pipeline, "$lookup")} == {"accounts_user"}  # the subtree


def test_top_earners_group_filter_and_sort_in_the_database(org):
    collection, pipeline = compile_only(lambda: selectors.top_earners(entries_in_reach(org["executor"])))
    assert collection == "economy_transaction"
    assert stages(pipeline, "$group")[0]["_id"] == {"user_id": "$user_id"}
    assert stages(pipeline, "$limit") == [selectors.TOP_EARNERS]
    sort = list(stages(pipeline, "$sort")[0].items())
    assert [key for key, _ in sort][:2] == ["credits", "pay"] and sort[0][1] == -1


def test_escalations_are_a_distinct_count(org):
    collection, pipeline = compile_only(lambda: selectors.review_figures(org["executor"], PERIOD))
    assert collection == "tickets_approvalstep"  # the first read: escalated tickets closed in the period
    assert {lookup["from"] for lookup in stages(pipeline, "$lookup")} == {"tickets_ticket", "accounts_user"}
    collection, pipeline = compile_only(
        lambda: ApprovalStep.objects.filter(
            selectors.members_in_reach(org["executor"], through="ticket__assignee__"),
            decision__in=selectors.ESCALATING,
        ).aggregate(tickets=selectors.Count("ticket_id", distinct=True))
    )
    assert collection == "tickets_approvalstep"
    assert "$addToSet" in str(stages(pipeline, "$group"))


def test_credit_distribution_groups_in_the_database_and_reads_medians(org):
    for person, credits in (("asset", 4), ("asset_2", -2), ("asset_3", 9)):
        assert User.objects.filter(id=org[person].id).update(credits=credits) == 1
    collection, pipeline = compile_only(lambda: selectors.credit_distribution(org["niki"]))
    assert collection == "accounts_user"
    assert not stages(pipeline, "$lookup") and stages(pipeline, "$group")[0]["_id"] == {"rank": "$rank"}
    mongomock_refuses(lambda: selectors.credit_distribution(org["niki"]), r"Unrecognized expression '\$type'")
    # The median is read as the middle values in order (sort, skip, limit), which mongomock runs.
    assets = User.objects.filter(selectors.members_in_reach(org["niki"]), rank="asset")
    assert selectors._median_credits(assets, 3) == 4
    assert selectors._median_credits(assets.exclude(id=org["asset"].id), 2) == Decimal("3.5")
    collection, pipeline = compile_only(lambda: selectors.credit_distribution(org["marshal"]))
    assert {"hidden": False} in stages(pipeline, "$match")[0]["$and"]  # anyone else: their subtree, unhidden


def test_the_ledger_download_reads_in_batches(org):
    collection, pipeline = compile_only(lambda: list(ledger_for_export(org["marshal"], org["asset"])))
    assert collection == "economy_transaction"
    assert {"user_id": org["asset"].id} in stages(pipeline, "$match")
    assert [key for key, _ in stages(pipeline, "$sort")[0].items()] == ["ts", "_id"]


def test_closed_tickets_of_the_period_compile(org):
    tickets = Ticket.objects.filter(
        selectors.members_in_reach(org["marshal"], through="assignee__"), status=Ticket.Status.CLOSED
    )
    collection, pipeline = compile_only(lambda: list(tickets.values_list("submitted_at", "closed_at")))
    assert collection == "tickets_ticket"
    assert stages(pipeline, "$lookup")[0]["from"] == "accounts_user"

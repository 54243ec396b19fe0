"""The daily review totals (`tickets.models.ReviewDay`), kept in the same atomic unit as every close.

The analytics' escalation rate and review times (docs/rules.md sections 11 and 26) over a year would otherwise
read every ticket closed in the year. Instead every close adds one to the row of (UTC day of the close, the
assignee's current rank, the bucket of its review time), with one more "escalated" when the ticket's approval
log holds an escalation; a member's rank change moves their closed tickets to the new rank (`move_rank`, on
`accounts.signals.rank_changed`). Review times are kept in buckets 2% wide (`bucket_of`), so the percentiles
read from the totals are those of the bucketed times: each shown as its bucket's middle, within 1% of the
exact time. A close is never undone (a closed ticket is read-only), so nothing is ever taken off but by a rank
change.

Concurrent writers add with `directorate.db.add_to_row` (F() increments, a key's first row created under a
unique constraint). tests/invariants.py and `benchmarks/inside.py check` compare the totals with the closed
tickets recomputed (`review_day_mismatches`).
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from accounts.models import User
from directorate.db import add_to_row, add_to_rows_in_bulk, now
from tickets.models import ApprovalStep, ReviewDay, Ticket

# The approval-log decisions that make a ticket "escalated" (docs/rules.md section 11).
ESCALATING = (ApprovalStep.Decision.ESCALATED, ApprovalStep.Decision.RECOMMENDED)
# Bucket n >= 1 holds review times from GROWTH**(n-1) to GROWTH**n seconds; bucket 0 those under a second.
GROWTH = 1.02
NOT_REVIEWED = -1  # a ticket closed without a recorded submission (no review time)

Key = tuple[date, str, int]  # (day, rank, bucket)


def bucket_of(latency: timedelta | None) -> int:
    """The bucket of a review time (NOT_REVIEWED for none): 2% wide from one second up."""
    if latency is None:
        return NOT_REVIEWED
    seconds = latency.total_seconds()
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log(seconds) / math.log(GROWTH))


def bucket_value(bucket: int) -> timedelta:
    """What a bucket's review times are shown as: its middle (geometric), within 1% of each of them; half a
    second for those under a second."""
    if bucket <= 0:
        return timedelta(milliseconds=500)
    return timedelta(milliseconds=round(1000 * GROWTH ** (bucket - 1) * math.sqrt(GROWTH)))


def review_bucket(submitted_at: datetime | None, closed_at: datetime) -> int:
    """The bucket of a closed ticket's review time, from its last submission to its close."""
    return bucket_of(None if submitted_at is None else max(closed_at - submitted_at, timedelta(0)))


def review_key(rank: str, submitted_at: datetime | None, closed_at: datetime) -> Key:
    return closed_at.astimezone(UTC).date(), rank, review_bucket(submitted_at, closed_at)


def record_close(ticket: Ticket, *, closed_at: datetime, assignee_rank: str | None = None) -> None:
    """Count `ticket`, just closed at `closed_at`, in the daily review totals. Call inside the closing unit,
    after the close's write.

    The assignee's rank is read inside the unit, after a write of their row: on SQLite the unit holds the write
    lock, so no rank change can come between; on MongoDB a rank change writes the member's row too, so the two
    units conflict and one runs again. A paid close has written the wallet and read the rank after it
    (`assignee_rank`, from `economy.ledger.post`); otherwise the member's `updated_at` is written here."""
    if assignee_rank is None:
        member = User.objects.filter(id=ticket.assignee_id)
        member.update(updated_at=now())
        assignee_rank = member.values_list("rank", flat=True).get()
    escalated = ApprovalStep.objects.filter(ticket_id=ticket.id, decision__in=ESCALATING).exists()
    add(review_key(assignee_rank, ticket.submitted_at, closed_at), closed=1, escalated=int(escalated))


def add(key: Key, *, closed: int, escalated: int) -> None:
    day, rank, bucket = key
    add_to_row(ReviewDay, {"day": day, "rank": rank, "bucket": bucket}, closed=closed, escalated=escalated)


def tallies(tickets: Iterable[tuple[str, datetime | None, datetime, bool]]) -> dict[Key, list[int]]:
    """{key: [closed, escalated]} of closed tickets given as (rank, submitted_at, closed_at, escalated)."""
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for rank, submitted_at, closed_at, escalated in tickets:
        total = sums[review_key(rank, submitted_at, closed_at)]
        total[0] += 1
        total[1] += int(escalated)
    return sums


def add_in_bulk(tickets: Iterable[tuple[str, datetime | None, datetime, bool]]) -> None:
    """Count closed tickets, given as for `tallies`, in a few queries: for a bulk loader that has the database to
    itself (it reads the rows, then writes them back), inside the unit that writes the tickets."""
    sums = tallies(tickets)
    if not sums:
        return
    days = {day for day, _, _ in sums}
    add_to_rows_in_bulk(
        ReviewDay,
        sums,
        key=("day", "rank", "bucket"),
        amounts=("closed", "escalated"),
        among=ReviewDay.objects.filter(day__gte=min(days), day__lte=max(days)),
    )


def escalated_ticket_ids(**ticket_filter) -> set[str]:
    """The ids of the tickets matching `ticket_filter` (lookups on the ticket) with an escalation in their log."""
    lookups = {f"ticket__{lookup}": value for lookup, value in ticket_filter.items()}
    steps = ApprovalStep.objects.filter(decision__in=ESCALATING, **lookups)
    return set(steps.values_list("ticket_id", flat=True).distinct())


def move_rank(sender=None, *, member_id: str, old_rank: str, new_rank: str, **kwargs) -> None:
    """A member's rank changed (inside the unit that changes it): their closed tickets move to the new rank."""
    if old_rank == new_rank:
        return
    closed = Ticket.objects.filter(assignee_id=member_id, status=Ticket.Status.CLOSED, closed_at__isnull=False)
    escalated = escalated_ticket_ids(assignee_id=member_id, status=Ticket.Status.CLOSED)
    rows = closed.values_list("id", "submitted_at", "closed_at")
    sums = tallies((old_rank, submitted, closed_at, ticket_id in escalated) for ticket_id, submitted, closed_at in rows)
    for (day, _, bucket), (count, escalated_count) in sums.items():
        add((day, old_rank, bucket), closed=-count, escalated=-escalated_count)
        add((day, new_rank, bucket), closed=count, escalated=escalated_count)


def review_day_mismatches() -> list[str]:
    """Every (day, rank, bucket) whose kept total differs from the closed tickets counted per UTC day of the
    close, assignee's current rank and review-time bucket, as sentences (empty: the totals equal the tickets).
    A closed ticket without a close time (none the services write) counts nowhere, as in the analytics' period.
    For the invariant checks of the tests and the load test."""
    escalated = escalated_ticket_ids(status=Ticket.Status.CLOSED)
    rows = Ticket.objects.filter(status=Ticket.Status.CLOSED, closed_at__isnull=False).values_list(
        "id", "assignee__rank", "submitted_at", "closed_at"
    )
    expected = {
        key: tuple(value)
        for key, value in tallies(
            (rank, submitted, closed_at, ticket_id in escalated) for ticket_id, rank, submitted, closed_at in rows
        ).items()
    }
    kept = {
        (row.day, row.rank, row.bucket): (row.closed, row.escalated)
        for row in ReviewDay.objects.all()
        if row.closed or row.escalated
    }
    return [
        f"{day} {rank} bucket {bucket}: kept {kept.get((day, rank, bucket))}, "
        f"tickets {expected.get((day, rank, bucket))} (closed, escalated)"
        for day, rank, bucket in sorted(set(expected) | set(kept))
        if kept.get((day, rank, bucket)) != expected.get((day, rank, bucket))
    ]

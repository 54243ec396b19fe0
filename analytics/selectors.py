"""Economy analytics (spec section 11) over the viewer's reach, as docs/rules.md section 11 settles it.

Marshals and up see the figures of their reporting subtree, themselves included; Nyx therefore sees every
member, and Niki everyone. A hidden member (Niki) and their own entries and tickets count for nobody else.
Every figure is an ORM aggregate over the period; only the percentiles and medians, which no portable
aggregate computes, are read as ordered values and finished here.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncWeek

from accounts.models import User
from accounts.policy import Action, may_view_analytics, sees_everyone
from accounts.presentation import DIRECTORATE, shown_name
from accounts.ranks import Rank, level
from accounts.selectors import in_subtree, outside_subtree
from directorate.errors import NotFound
from economy.models import LedgerDay, LedgerMemberDay, Transaction
from tickets.models import ReviewDay, Ticket
from tickets.review_totals import NOT_REVIEWED, bucket_value, escalated_ticket_ids, review_bucket

DAY, WEEK = "day", "week"
TOP_EARNERS = 10
# A viewer whose reach leaves out at most this many members of the ranks asked for reads the daily totals.
FEW_OUTSIDE_REACH = 50
# The top earners are first looked for among this many members who gained most overall, then among all who can
# still lead when they are at most MOST_LEADERS; past that, one pass over the period's per-member totals.
FEW_LEADERS, MOST_LEADERS = 40, 2000
ZERO = Decimal("0.00")
MemberIds = QuerySet[User, Any] | list[str]  # members' ids: a subquery (`.values("id")`) or a list


def money(value: Decimal | None) -> Decimal:
    """A sum of pay, two places (SQLite sums decimals without their scale)."""
    return (value or ZERO).quantize(ZERO)


@dataclass(frozen=True)
class Filters:
    start: date  # first day, inclusive (UTC)
    end: date  # last day, inclusive (UTC)
    interval: str = DAY  # DAY or WEEK
    rank: str = ""  # one rank, or "" for all

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)


@dataclass
class Bucket:
    start: date
    amounts: dict = field(default_factory=dict)  # type -> (credits, pay, entries)

    def credits(self, entry_type: str) -> int:
        return self.amounts.get(entry_type, (0, ZERO, 0))[0]

    def pay(self, entry_type: str) -> Decimal:
        return self.amounts.get(entry_type, (0, ZERO, 0))[1]


@dataclass(frozen=True)
class TypeTotal:
    type: str
    label: str
    credits: int
    pay: Decimal
    entries: int


@dataclass(frozen=True)
class RankFigures:
    rank: str
    label: str
    members: int
    total: int
    low: int
    median: Decimal
    high: int


@dataclass(frozen=True)
class Earner:
    name: str
    credits: int
    pay: Decimal


@dataclass(frozen=True)
class Reviews:
    closed: int
    escalated: int
    reviewed: int  # closed tickets with a recorded submission: the latency figures' sample
    median: timedelta | None
    p90: timedelta | None

    @property
    def escalation_rate(self) -> Decimal | None:
        return None if not self.closed else Decimal(self.escalated) / Decimal(self.closed)


@dataclass(frozen=True)
class Figures:
    filters: Filters
    types: list  # [(type, label)] of the types with entries in the period, in the ledger's order
    buckets: list
    totals: list
    distribution: list
    reviews: Reviews
    earners: list

    @property
    def total_credits(self) -> int:
        return sum(total.credits for total in self.totals)

    @property
    def total_pay(self) -> Decimal:
        return sum((total.pay for total in self.totals), ZERO)

    @property
    def total_entries(self) -> int:
        return sum(total.entries for total in self.totals)


def rank_choices(viewer: User) -> list[tuple[str, str]]:
    """The ranks the viewer may filter by: those in their reach (the hidden rank shown as the Directorate)."""
    sees_anyone = sees_everyone(viewer, Action.VIEW_ANALYTICS)
    return [
        (rank.value, DIRECTORATE if rank == Rank.NIKI else rank.label)
        for rank in Rank
        if level(rank) <= level(viewer.rank) and (rank != Rank.NIKI or sees_anyone)
    ]


def members_in_reach(viewer: User, rank: str = "", *, through: str = "") -> Q:
    """A filter on people (reached `through` a relation, e.g. "user__") whose figures `viewer` may see."""
    if not may_view_analytics(viewer):
        raise NotFound("No such page.")
    if rank and rank not in dict(rank_choices(viewer)):
        raise NotFound("No such rank.")
    reach = Q()
    if not sees_everyone(viewer, Action.VIEW_ANALYTICS):
        reach = in_subtree(viewer.chain, field=f"{through}chain") & Q(**{f"{through}hidden": False})
    if rank:
        reach &= Q(**{f"{through}rank": rank})
    return reach


def people_in_reach(viewer: User, rank: str = "") -> QuerySet[User, Any]:
    """The ids of the people whose figures `viewer` may see (of `rank`), as a subquery: a filter on a member's
    rows by `user_id__in` this reads a subtree's members from the index on the chain, then each one's rows from
    the index on the member, where a join to the members would test every row of the period."""
    return User.objects.filter(members_in_reach(viewer, rank)).values("id")


def economy_figures(viewer: User, filters: Filters) -> Figures:
    """Every figure of the dashboard for `viewer`, over `filters`; NotFound for those who may not see it."""
    entries = Transaction.objects.filter(
        user_id__in=people_in_reach(viewer, filters.rank), ts__gte=filters.since, ts__lt=filters.until
    )
    outside = _few_outside_reach(viewer, filters)
    buckets, totals = _ledger_by_bucket(entries, filters, outside)
    types = [(total.type, total.label) for total in totals]
    return Figures(
        filters=filters,
        types=types,
        buckets=buckets,
        totals=totals,
        distribution=credit_distribution(viewer, filters.rank, outside),
        reviews=_review_figures(viewer, filters, outside),
        earners=top_earners(entries) if outside is None else _top_earners_from_daily_totals(filters, outside),
    )


def _ranks(filters: Filters) -> list[str]:
    return [filters.rank] if filters.rank else [rank.value for rank in Rank]


def _of_rank(filters: Filters) -> Q:
    """A filter on the daily totals' `rank` for the rank asked for; none for all ranks (every row holds one), so
    that the database does not test each row against every rank."""
    return Q(rank=filters.rank) if filters.rank else Q()


def _few_outside_reach(viewer: User, filters: Filters) -> list[str] | None:
    """The members of the ranks asked for whom `viewer` may not see, when they are few (Nyx: the Directorate's
    hidden members; Niki: nobody): the figures are then read from the daily ledger totals, those few members'
    own entries taken off. None when more are out of reach (a marshal's or an executor's subtree): their figures
    are read from the ledger itself, which is then small."""
    members_in_reach(viewer, filters.rank)  # "not found" for those who may not see the figures
    if sees_everyone(viewer, Action.VIEW_ANALYTICS):
        return []
    # Out of reach: outside the viewer's subtree, or hidden. Each read from an index (a NOT over the reach
    # would test every member); only the Controller's rank is ever hidden (docs/rules.md section 15), so the
    # hidden are looked for in that rank, through the rank index.
    people = User.objects.filter(_of_rank(filters))
    outside: list[str] = []
    for beyond in (people.filter(outside_subtree(viewer.chain)), people.filter(rank=Rank.NIKI, hidden=True)):
        outside += beyond.values_list("id", flat=True)[: FEW_OUTSIDE_REACH + 1]
    outside = list(dict.fromkeys(outside))
    return outside if len(outside) <= FEW_OUTSIDE_REACH else None


def _ledger_by_bucket(
    entries: QuerySet[Transaction], filters: Filters, outside: list[str] | None
) -> tuple[list[Bucket], list[TypeTotal]]:
    """Sums of credits and pay per day or week and type, every bucket of the period present; totals per type."""
    sums = _sums_from_ledger(entries, filters) if outside is None else _sums_from_daily_totals(filters, outside)
    buckets = {start: Bucket(start) for start in bucket_starts(filters)}
    totals: dict[str, tuple[int, Decimal, int]] = {}
    for (start, entry_type), (credits, pay, count) in sorted(sums.items()):
        if not count:
            continue  # a member's rank change or an excluded member left nothing of this type here
        amounts = (credits, money(pay), count)
        buckets[start].amounts[entry_type] = amounts
        credits, pay, count = totals.get(entry_type, (0, ZERO, 0))
        totals[entry_type] = (credits + amounts[0], pay + amounts[1], count + amounts[2])
    return list(buckets.values()), [
        TypeTotal(entry_type, type_label(entry_type), *totals[entry_type]) for entry_type in ordered_types(totals)
    ]


Sums = dict[tuple[date, str], tuple[int, Decimal, int]]  # (bucket start, type) -> (credits, pay, entries)


def _sums_from_ledger(entries: QuerySet[Transaction], filters: Filters) -> Sums:
    truncate = TruncWeek if filters.interval == WEEK else TruncDay
    rows = (
        entries.annotate(bucket=truncate("ts"))
        .values("bucket", "type")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"), entries=Count("id"))
        .order_by()
    )
    return {
        (_as_date(row["bucket"]), row["type"]): (row["credits"] or 0, row["pay"] or ZERO, row["entries"])
        for row in rows
    }


def _sums_from_daily_totals(filters: Filters, outside: list[str]) -> Sums:
    """The same sums from the daily ledger totals (economy.models.LedgerDay, per day, member rank and type), less
    the entries of the members `outside` the viewer's reach."""
    days = (
        LedgerDay.objects.filter(_of_rank(filters), day__gte=filters.start, day__lte=filters.end)
        .values("day", "type")
        .annotate(credits=Sum("credits"), pay=Sum("pay"), entries=Sum("entries"))
        .order_by()
    )
    sums: dict[tuple[date, str], list] = defaultdict(lambda: [0, ZERO, 0])
    week = filters.interval == WEEK
    for row in days:
        day = _as_date(row["day"])
        total = sums[(day - timedelta(days=day.weekday()) if week else day, row["type"])]
        total[0] += row["credits"] or 0
        total[1] += row["pay"] or ZERO
        total[2] += row["entries"] or 0
    if outside:
        excluded = Transaction.objects.filter(user_id__in=outside, ts__gte=filters.since, ts__lt=filters.until)
        for key, (credits, pay, count) in _sums_from_ledger(excluded, filters).items():
            total = sums[key]
            total[0] -= credits
            total[1] -= pay
            total[2] -= count
    return {key: (credits, pay, count) for key, (credits, pay, count) in sums.items()}


def _top_earners_from_daily_totals(filters: Filters, outside: list[str]) -> list[Earner]:
    """`top_earners` from the per-member daily totals (economy.models.LedgerMemberDay), the few members `outside`
    the viewer's reach left out.

    First only the members who can lead: nobody gains more in a period than every credit they ever gained
    (`User.credits_gained`). The period's gains of the FEW_LEADERS members who gained most overall are summed;
    the tenth of them sets a bar, and a member who never gained that much overall cannot pass it. When the next
    member overall is below the bar, these are the ten; else, when few members reach the bar (at most
    MOST_LEADERS), the gains of exactly those are summed; else (a short period, where the gains overall say
    little) one pass over the period's rows."""
    members = User.objects.filter(_of_rank(filters), credits_gained__gt=0).exclude(id__in=outside)
    read = list(members.order_by("-credits_gained", "id").values_list("id", "credits_gained")[: FEW_LEADERS + 1])
    leaders = _period_gains(filters, [member_id for member_id, _ in read[:FEW_LEADERS]])
    if len(read) <= FEW_LEADERS or (len(leaders) == TOP_EARNERS and leaders[-1][1] > read[FEW_LEADERS][1]):
        return _earners(leaders)
    bar = leaders[-1][1] if len(leaders) == TOP_EARNERS else 1
    # Counted from the index on (rank and) credits gained alone, stopping past MOST_LEADERS.
    reaching = User.objects.filter(_of_rank(filters), credits_gained__gte=bar).values("credits_gained")
    if reaching[: MOST_LEADERS + 1].count() <= MOST_LEADERS:
        return _earners(_period_gains(filters, members.filter(credits_gained__gte=bar).values("id")))
    return _top_earners_by_scan(filters, outside)


def _period_gains(filters: Filters, members: MemberIds) -> list[tuple[str, int, Decimal]]:
    """The first ten of `members` (ids) by credits gained in the period, then pay, with a gain."""
    days = LedgerMemberDay.objects.filter(user_id__in=members, day__gte=filters.start, day__lte=filters.end)
    gains = days.values("user_id").annotate(credits=Sum("credits"), pay=Sum("pay")).order_by()
    return sorted(
        ((row["user_id"], row["credits"], money(row["pay"])) for row in gains if row["credits"] > 0),
        key=lambda row: (-row[1], -row[2], row[0]),
    )[:TOP_EARNERS]


def _top_earners_by_scan(filters: Filters, outside: list[str]) -> list[Earner]:
    """`top_earners` from one pass over the period's per-member daily totals (read from an index that holds the
    period's rows together, credits and pay). The few members `outside` the viewer's reach are dropped from the
    leaders read (as many more rows are read for them), not tested on every row."""
    days = LedgerMemberDay.objects.filter(_of_rank(filters), day__gte=filters.start, day__lte=filters.end)
    leaders = (
        days.values("user_id")
        .annotate(credits=Sum("credits"), pay=Sum("pay"))
        .filter(credits__gt=0)
        .order_by("-credits", "-pay", "user_id")
    )
    rows = [
        (row["user_id"], row["credits"], money(row["pay"]))
        for row in leaders[: TOP_EARNERS + len(outside)]
        if row["user_id"] not in outside
    ]
    return _earners(rows[:TOP_EARNERS])


def _earners(rows: list[tuple[str, int, Decimal]]) -> list[Earner]:
    """(member id, credits, pay) rows as the page names them."""
    people = User.objects.in_bulk([user_id for user_id, _, _ in rows])
    return [Earner(shown_name(people[user_id]), credits, pay) for user_id, credits, pay in rows]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def bucket_starts(filters: Filters) -> list[date]:
    """The first day of every bucket of the period: each day, or each week's Monday (ISO weeks)."""
    if filters.interval == WEEK:
        first, step = filters.start - timedelta(days=filters.start.weekday()), timedelta(weeks=1)
    else:
        first, step = filters.start, timedelta(days=1)
    starts = []
    while first <= filters.end:
        starts.append(first)
        first += step
    return starts


def ordered_types(types: Iterable[str]) -> list[str]:
    """Ledger types in the order the ledger declares them; any other (newer) type after them, by name."""
    declared = [value for value in Transaction.Type.values if value in types]
    return declared + sorted(set(types) - set(declared))


def type_label(entry_type: str) -> str:
    return dict(Transaction.Type.choices).get(entry_type, entry_type.replace("_", " ").capitalize())


def credit_distribution(viewer: User, rank: str = "", outside: list[str] | None = None) -> list[RankFigures]:
    """Current credits of the members in reach, per rank: members, sum, lowest, median and highest.

    `outside`: the few members of the ranks asked for out of the viewer's reach (`_few_outside_reach`), when so
    few: then every member is grouped by rank (read from the index on rank and credits alone) and those few are
    taken off. None (a marshal's or an executor's subtree): the members in reach are grouped."""
    if outside is None:
        people = User.objects.filter(members_in_reach(viewer, rank))
        left_out: dict[str, list[int]] = {}
    else:
        people = User.objects.filter(rank=rank) if rank else User.objects.all()
        left_out = defaultdict(list)
        for member_rank, credits in User.objects.filter(id__in=outside).values_list("rank", "credits"):
            left_out[member_rank].append(credits)
    rows = {
        row["rank"]: row
        for row in people.values("rank")
        # Count("credits") counts the members (credits is never null) from the index on (rank, credits).
        .annotate(members=Count("credits"), total=Sum("credits"), low=Min("credits"), high=Max("credits"))
        .order_by("rank")
    }
    labels = dict(rank_choices(viewer))
    figures = []
    for value in (rank for rank in Rank if rank in rows):
        row = rows[value]
        members = row["members"] - len(left_out.get(value, ()))
        if not members:
            continue  # every member of this rank is out of reach
        of_rank = people.filter(rank=value)
        low, high = row["low"], row["high"]
        if left_out.get(value):
            of_rank = of_rank.exclude(id__in=outside or [])
            ordered = of_rank.order_by("credits").values_list("credits", flat=True)
            low, high = ordered.first(), ordered.last()
        figures.append(
            RankFigures(
                rank=value,
                label=labels[value],
                members=members,
                total=(row["total"] or 0) - sum(left_out.get(value, ())),
                low=low,
                median=_median_credits(of_rank, members),
                high=high,
            )
        )
    return figures


def _median_credits(people: QuerySet[User], count: int) -> Decimal:
    """The median read from the database: the middle one or two values in order, not every member's."""
    middle = list(people.order_by("credits").values_list("credits", flat=True)[(count - 1) // 2 : count // 2 + 1])
    return Decimal(sum(middle)) / len(middle)


def review_figures(viewer: User, filters: Filters) -> Reviews:
    """Tickets of people in reach closed in the period: how many, how many were escalated, and how long
    review took (from the last submission to the close; tickets never submitted, such as a promotion
    decided without review, have no review time).

    Review times are counted in the buckets of `tickets.review_totals` (2% wide), and the median and 90th
    percentile are those of the bucketed times, each its bucket's middle: within 1% of the exact ones. A viewer
    who sees all but a few (as `_few_outside_reach` finds them) reads the
    daily review totals (`tickets.models.ReviewDay`), less those few members' own closed tickets; a marshal's
    or an executor's subtree is read from its tickets, bucketed the same way."""
    return _review_figures(viewer, filters, _few_outside_reach(viewer, filters))


def _review_figures(viewer: User, filters: Filters, outside: list[str] | None) -> Reviews:
    if outside is None:
        counts = _review_counts(filters, people_in_reach(viewer, filters.rank))
    else:
        counts = _review_counts_from_daily_totals(filters, outside)
    closed, escalated, histogram = counts
    reviewed = sum(histogram.values())
    return Reviews(
        closed=closed,
        escalated=escalated,
        reviewed=reviewed,
        median=_histogram_median(histogram, reviewed) if reviewed else None,
        p90=bucket_value(_bucket_at(histogram, max(1, math.ceil(0.9 * reviewed)))) if reviewed else None,
    )


ReviewCounts = tuple[int, int, dict[int, int]]  # closed, escalated, {review-time bucket: closed tickets}


def _review_counts(filters: Filters, assignees: MemberIds) -> ReviewCounts:
    """The review counts of the tickets closed in the period whose assignee is one of `assignees` (ids), read from
    the tickets and their approval logs."""
    closed = {
        "assignee_id__in": assignees,
        "status": Ticket.Status.CLOSED,
        "closed_at__gte": filters.since,
        "closed_at__lt": filters.until,
    }
    count, histogram = 0, defaultdict[int, int](int)
    for submitted_at, closed_at in Ticket.objects.filter(**closed).values_list("submitted_at", "closed_at"):
        count += 1
        bucket = NOT_REVIEWED if closed_at is None else review_bucket(submitted_at, closed_at)  # None: not here
        if bucket != NOT_REVIEWED:
            histogram[bucket] += 1
    return count, len(escalated_ticket_ids(**closed)), histogram


def _review_counts_from_daily_totals(filters: Filters, outside: list[str]) -> ReviewCounts:
    """The same counts from the daily review totals (per day, assignee's rank and review-time bucket), less the
    tickets of the members `outside` the viewer's reach."""
    rows = (
        ReviewDay.objects.filter(_of_rank(filters), day__gte=filters.start, day__lte=filters.end)
        .values("bucket")
        .annotate(closed=Sum("closed"), escalated=Sum("escalated"))
        .order_by()
    )
    closed, escalated, histogram = 0, 0, defaultdict[int, int](int)
    for row in rows:
        closed += row["closed"] or 0
        escalated += row["escalated"] or 0
        if row["bucket"] != NOT_REVIEWED:
            histogram[row["bucket"]] += row["closed"] or 0
    if outside:
        their_closed, their_escalated, their_histogram = _review_counts(
            filters, User.objects.filter(_of_rank(filters), id__in=outside).values("id")
        )
        closed, escalated = closed - their_closed, escalated - their_escalated
        for bucket, count in their_histogram.items():
            histogram[bucket] -= count
    return closed, escalated, {bucket: count for bucket, count in histogram.items() if count}


def _bucket_at(histogram: dict[int, int], position: int) -> int:
    """The bucket of the `position`-th (from 1) smallest review time."""
    running = 0
    for bucket in sorted(histogram):
        running += histogram[bucket]
        if running >= position:
            return bucket
    raise ValueError("position beyond the histogram")


def _histogram_median(histogram: dict[int, int], count: int) -> timedelta:
    """The median of the bucketed times: the middle one, or the mean of the two middle ones."""
    if count % 2:
        return bucket_value(_bucket_at(histogram, (count + 1) // 2))
    return (bucket_value(_bucket_at(histogram, count // 2)) + bucket_value(_bucket_at(histogram, count // 2 + 1))) / 2


def top_earners(entries: QuerySet[Transaction]) -> list[Earner]:
    """The members in reach who gained the most credits in the period (all entry types, net), most first."""
    rows = list(
        entries.values("user_id")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"))
        .filter(credits__gt=0)
        .order_by("-credits", "-pay", "user_id")[:TOP_EARNERS]
    )
    people = User.objects.in_bulk([row["user_id"] for row in rows])
    return [Earner(shown_name(people[row["user_id"]]), row["credits"], money(row["pay"])) for row in rows]

"""The one way into the ledger: a member's entries, their wallet and the daily totals, in one atomic unit.

Every ledger write goes through `post`: it moves the member's wallet (a deduction only while the balance covers
it; `User.credits_gained` adds the entries' positive credits), appends the entries, and adds them to the two
daily totals the economy analytics read (docs/rules.md section 23):
`LedgerDay`, the ledger summed per UTC day, member rank and entry type, and `LedgerMemberDay`, per member and day.
A member's rank change moves their sums to the new rank (`move_rank`, on `accounts.signals.rank_changed`).
`add_in_bulk` is the bulk loader's way (`seed_scale`). tests/invariants.py checks after every database test that
the totals equal the ledger.

Concurrent writers: each sum is a conditional `F()` increment of the row of its key; a missing row is created
under a unique constraint, and a writer that loses that race adds to the row the winner created. On MongoDB two
transactions writing one row conflict, and `@retry_on_write_conflict` runs the losing service again.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDay

from accounts.models import User
from directorate.db import add_to_row, add_to_rows_in_bulk, now
from directorate.events import publish
from economy.models import LedgerDay, LedgerMemberDay, Transaction

ZERO = Decimal("0.00")
Key = tuple[date, str, str]  # (day, rank, type)


def day_of(moment: datetime) -> date:
    """The UTC day a ledger entry counts for."""
    return moment.astimezone(UTC).date()


class Wallet(NamedTuple):
    """A member's wallet just after a ledger write, and their rank, read under the write's lock."""

    credits: int
    balance: Decimal
    rank: str


def post(
    member_id: str, entries: list[Transaction], *, credits: int, pay: Decimal, cover_credits: bool = False
) -> Wallet | None:
    """Append `entries` (all `member_id`'s), move their wallet by `credits` and `pay` and add the entries to the
    daily totals. Call inside the caller's atomic unit. The entries go first, so that their unique constraints
    decide a race (IntegrityError). A deduction applies only while the balance (and, with `cover_credits`, the
    credits) covers it; otherwise the answer is None and the caller must raise, which undoes its unit. The
    answer is the member's wallet after the write, with their rank."""
    if any(entry.user_id != member_id for entry in entries):
        raise ValueError("post() writes the entries of one member at a time.")
    Transaction.objects.bulk_create(entries)
    wallet = User.objects.filter(id=member_id)
    if pay < 0:
        wallet = wallet.filter(balance__gte=-pay)
    if cover_credits and credits < 0:
        wallet = wallet.filter(credits__gte=-credits)
    gained = sum(entry.amount_cr for entry in entries if entry.amount_cr > 0)
    moved = wallet.update(
        credits=F("credits") + credits,
        balance=F("balance") + pay,
        credits_gained=F("credits_gained") + gained,
        updated_at=now(),
    )
    if moved != 1:
        return None
    # Read after the wallet's write: the rank a concurrent promotion may change is read under the same lock.
    wallet = Wallet(*User.objects.filter(id=member_id).values_list("credits", "balance", "rank").get())
    for key, (day_credits, day_pay, count) in ledger_sums(entries, {member_id: wallet.rank}).items():
        add(key, credits=day_credits, pay=day_pay, entries=count)
    for (_, day), (day_credits, day_pay, _) in member_day_sums(entries, {member_id: wallet.rank}).items():
        add_member_day(member_id, day, wallet.rank, credits=day_credits, pay=day_pay)
    publish(
        [member_id],
        "credits_update",
        {"user_id": member_id, "new_credits": wallet.credits, "new_balance": str(wallet.balance)},
    )
    return wallet


def add(key: Key, *, credits: int, pay: Decimal, entries: int) -> None:
    """Add to the daily total of `key` (day, rank, type), creating its row if it is the key's first entry."""
    day, rank, entry_type = key
    add_to_row(LedgerDay, {"day": day, "rank": rank, "type": entry_type}, credits=credits, pay=pay, entries=entries)


def add_member_day(member_id: str, day: date, rank: str, *, credits: int, pay: Decimal) -> None:
    """Add to a member's total of `day` (its row carries their current `rank` when it is created)."""
    add_to_row(LedgerMemberDay, {"user_id": member_id, "day": day}, {"rank": rank}, credits=credits, pay=pay)


def member_days(member_id: str) -> dict[tuple[date, str], tuple[int, Decimal, int]]:
    """One member's ledger summed per (day, type): (credits, pay, entries)."""
    rows = (
        Transaction.objects.filter(user_id=member_id)
        .annotate(day=TruncDay("ts"))
        .values("day", "type")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"), entries=Count("id"))
        .order_by()
    )
    return {(as_date(row["day"]), row["type"]): (row["credits"], row["pay"], row["entries"]) for row in rows}


def move_rank(sender=None, *, member_id: str, old_rank: str, new_rank: str, **kwargs) -> None:
    """A member's rank changed (inside the unit that changes it): their daily totals move to the new rank."""
    if old_rank == new_rank:
        return
    LedgerMemberDay.objects.filter(user_id=member_id).update(rank=new_rank)
    for (day, entry_type), (credits, pay, count) in member_days(member_id).items():
        add((day, old_rank, entry_type), credits=-credits, pay=-pay, entries=-count)
        add((day, new_rank, entry_type), credits=credits, pay=pay, entries=count)


def add_in_bulk(entries: list[Transaction], ranks: dict[str, str]) -> None:
    """Add `entries` to both daily totals (`ranks`: member id -> rank) in a few queries: for a bulk loader that
    has the database to itself (it reads the rows, then writes them back), inside the unit of its entries."""
    if not entries:
        return
    sums = ledger_sums(entries, ranks)
    days = {day for day, _, _ in sums}
    add_to_rows_in_bulk(
        LedgerDay,
        sums,
        key=("day", "rank", "type"),
        amounts=("credits", "pay", "entries"),
        among=LedgerDay.objects.filter(day__gte=min(days), day__lte=max(days)),
    )
    member_sums = member_day_sums(entries, ranks)
    add_to_rows_in_bulk(
        LedgerMemberDay,
        {key: (credits, pay) for key, (credits, pay, _) in member_sums.items()},
        key=("user_id", "day"),
        amounts=("credits", "pay"),
        among=LedgerMemberDay.objects.filter(
            user_id__in={member_id for member_id, _ in member_sums}, day__gte=min(days), day__lte=max(days)
        ),
        fields=lambda member_day: {"rank": member_sums[member_day][2]},
    )


def member_day_sums(entries: Iterable[Transaction], ranks: dict[str, str]) -> dict[tuple[str, date], list]:
    """{(member id, day): [credits, pay, rank]} of `entries`, in memory."""
    sums: dict[tuple[str, date], list] = {}
    for entry in entries:
        total = sums.setdefault((entry.user_id, day_of(entry.ts)), [0, ZERO, ranks[entry.user_id]])
        total[0] += entry.amount_cr
        total[1] += entry.amount_pay
    return sums


def ledger_sums(entries: Iterable[Transaction], ranks: dict[str, str]) -> dict[Key, list]:
    """The daily totals of `entries` in memory, each counted under its member's rank (`ranks`: member id -> rank)."""
    sums: dict[Key, list] = defaultdict(lambda: [0, ZERO, 0])
    for entry in entries:
        total = sums[(day_of(entry.ts), ranks[entry.user_id], entry.type)]
        total[0] += entry.amount_cr
        total[1] += entry.amount_pay
        total[2] += 1
    return sums


def as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def ledger_day_mismatches() -> list[str]:
    """Every (day, rank, type) whose daily total differs from the ledger summed per UTC day, member's current
    rank and type, and every (member, day) whose total differs from their entries of that day, as sentences
    (empty: the totals equal the ledger). For the invariant checks of the tests and the load test."""
    expected = {}
    rows = (
        Transaction.objects.annotate(day=TruncDay("ts"))
        .values("day", "user__rank", "type")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"), entries=Count("id"))
        .order_by()
    )
    for row in rows:
        key = (as_date(row["day"]), row["user__rank"], row["type"])
        expected[key] = (row["credits"] or 0, (row["pay"] or ZERO).quantize(ZERO), row["entries"])
    kept = {
        (row.day, row.rank, row.type): (row.credits, row.pay.quantize(ZERO), row.entries)
        for row in LedgerDay.objects.all()
        if row.entries or row.credits or row.pay
    }
    broken = [
        f"{day} {rank} {entry_type}: kept {kept.get((day, rank, entry_type))}, "
        f"ledger {expected.get((day, rank, entry_type))} (credits, pay, entries)"
        for day, rank, entry_type in sorted(set(expected) | set(kept))
        if kept.get((day, rank, entry_type)) != expected.get((day, rank, entry_type))
    ]
    by_member = {
        (row["user_id"], as_date(row["day"])): (
            row["user__rank"],
            row["credits"] or 0,
            (row["pay"] or ZERO).quantize(ZERO),
        )
        for row in Transaction.objects.annotate(day=TruncDay("ts"))
        .values("user_id", "day", "user__rank")
        .annotate(credits=Sum("amount_cr"), pay=Sum("amount_pay"))
        .order_by()
    }
    kept_by_member = {
        (row.user_id, row.day): (row.rank, row.credits, row.pay.quantize(ZERO)) for row in LedgerMemberDay.objects.all()
    }
    broken += [
        f"member {member_id} on {day}: kept {kept_by_member.get((member_id, day))}, "
        f"ledger {by_member.get((member_id, day))} (rank, credits, pay)"
        for member_id, day in sorted(set(by_member) | set(kept_by_member))
        if kept_by_member.get((member_id, day)) != by_member.get((member_id, day))
    ]
    return broken

"""Reads of the ledger that depend on who is asking, and the payroll's view of a week."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from accounts.policy import Action, can, is_niki
from accounts.ranks import Rank
from accounts.selectors import PERSON_COLUMNS, person_for
from directorate.errors import NotFound
from economy.models import PayrollRun, Transaction
from economy.periods import Period
from economy.rates import credit_decay, weekly_salary

NO_SUCH_LEDGER = "No such ledger."


def ledger_owner_for(viewer: User, user_id: object = None) -> User:
    """Whose ledger `viewer` may read (`Action.VIEW_LEDGER`): their own, or a subordinate's for those who
    manage pay."""
    if not user_id or str(user_id) == viewer.id:
        return viewer
    # One answer for a person out of sight, one in sight whose ledger is not the viewer's to read, and an id
    # that does not exist: the message must not tell them apart.
    try:
        person = person_for(viewer, user_id)
    except NotFound:
        raise NotFound(NO_SUCH_LEDGER) from None
    if not can(viewer, Action.VIEW_LEDGER, person):
        raise NotFound(NO_SUCH_LEDGER)
    return person


# What a ledger row shows of its ticket and its approver (a ledger never loads ticket bodies). The approver is
# read as every person shown beside something else is (the Reverse control asks the policy about them).
LEDGER_RELATED_COLUMNS = (
    "related_ticket__title",
    "related_ticket__visibility",
    "related_ticket__author",
    "related_ticket__assignee",
    "related_ticket__reviewer",
    *(f"approved_by__{column}" for column in PERSON_COLUMNS),
)


def ledger_of(person: User) -> QuerySet[Transaction]:
    """A person's ledger entries, newest first, with what is shown of their tickets and approvers."""
    entry_columns = [field.name for field in Transaction._meta.concrete_fields]
    return (
        Transaction.objects.filter(user_id=person.id)
        .select_related("approved_by", "related_ticket")
        .only(*entry_columns, *LEDGER_RELATED_COLUMNS)
        .order_by("-ts", "-id")
    )


def recent_rewards(person: User, limit: int = 5) -> list[Mapping[str, Any]]:
    """`person`'s latest awards and payments, with the title of the ticket each rewarded: rows of `ts`,
    `amount_cr`, `amount_pay`, `related_ticket_id` and `related_ticket__title`."""
    rewards = [Transaction.Type.CREDIT_AWARD, Transaction.Type.PAYMENT]
    return list(
        Transaction.objects.filter(user_id=person.id, type__in=rewards)
        .values("ts", "amount_cr", "amount_pay", "related_ticket_id", "related_ticket__title")
        .order_by("-ts", "-id")[:limit]
    )


# Payroll (docs/rules.md section 9) ----------------------------------------------------------------------


@dataclass(frozen=True)
class PayrollLine:
    """One member's payroll for a week: the salary paid and the credits the decay takes."""

    member: User
    salary: Decimal
    decay: int


@dataclass
class PayrollReport:
    """A week's payroll: what would be paid (a preview) or what a run paid now."""

    period: Period
    lines: list[PayrollLine] = field(default_factory=list)
    already_paid: bool = False  # the week had been paid in full before
    complete: bool = True  # every member of the week is settled

    @property
    def total_salary(self) -> Decimal:
        return sum((line.salary for line in self.lines), Decimal("0.00"))

    @property
    def total_decay(self) -> int:
        return sum(line.decay for line in self.lines)


def payroll_members(period: Period) -> QuerySet[User]:
    """Whom a week's payroll covers: active members enlisted before the week ended. Never Niki."""
    return (
        User.objects.filter(is_active=True, hidden=False, created_at__lt=period.end)
        .exclude(rank=Rank.NIKI)
        .order_by("username")
    )


def payroll_line(member: User) -> PayrollLine:
    return PayrollLine(member=member, salary=weekly_salary(member.rank), decay=credit_decay(member.credits))


def is_week_paid(period: Period) -> bool:
    return PayrollRun.objects.filter(period=period.name).exists()


def payroll_preview(period: Period) -> PayrollReport:
    """What paying `period` would write now: a line for each member not yet settled that has something
    to be paid or to lose. Writes nothing."""
    if is_week_paid(period):
        return PayrollReport(period=period, already_paid=True)
    settled = set(
        Transaction.objects.filter(
            period=period.name, type__in=[Transaction.Type.SALARY, Transaction.Type.DECAY]
        ).values_list("user_id", flat=True)
    )
    lines = [payroll_line(member) for member in payroll_members(period) if member.id not in settled]
    return PayrollReport(period=period, lines=[line for line in lines if line.salary or line.decay])


def reversible_ids(viewer: User, owner: User, entries: Any) -> set[str]:
    """The ids of `entries` (of `owner`'s ledger) that `viewer` may reverse now: the same rule as
    `economy.services.reversible_entry`, for showing the Reverse control."""
    if viewer.id == owner.id or not can(viewer, Action.ADJUST_CREDITS, owner):
        return set()
    kinds = (Transaction.Type.CREDIT_AWARD, Transaction.Type.PAYMENT, Transaction.Type.MANUAL_ADJ)
    candidates = [entry for entry in entries if entry.type in kinds]
    if not candidates:
        return set()
    reversed_ids = set(
        Transaction.objects.filter(
            type=Transaction.Type.REVERSAL, reverses_id__in=[entry.id for entry in candidates]
        ).values_list("reverses_id", flat=True)
    )
    return {
        entry.id
        for entry in candidates
        if entry.id not in reversed_ids
        and (is_niki(viewer) or entry.approved_by_id == viewer.id or viewer.is_above(entry.approved_by))
    }

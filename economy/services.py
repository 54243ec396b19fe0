"""Writes to the ledger. A credit or payment never changes without its ledger entry in the same atomic unit."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from accounts.models import User
from accounts.policy import Action, can
from accounts.presentation import amounts_in_words, shown_name
from accounts.ranks import Rank
from accounts.selectors import person_for
from accounts.services import notify
from directorate.db import atomic, first_of, now, retry_on_write_conflict
from directorate.errors import Conflict, Forbidden, Invalid, NotFound
from directorate.events import publish
from directorate.text import refuse_bidi_controls
from economy import ledger
from economy.models import PayrollRun, Transaction
from economy.periods import Period, last_completed_period, payroll_period
from economy.rates import rate_for
from economy.selectors import (
    PayrollLine,
    PayrollReport,
    is_week_paid,
    payroll_line,
    payroll_members,
    payroll_preview,
)
from economy.validation import parse_credits, parse_money

REASON_MAX = 500


def pay_ticket_reward(*, ticket: Any, credits: int, pay: Decimal, approved_by: User) -> ledger.Wallet:
    """Pay an approved ticket's reward to its assignee. Must run inside the approving atomic unit. The answer is
    the assignee's wallet after the payment, with their rank as read under the unit's lock.

    The ledger's unique constraints refuse a second payout for the same ticket, so a
    retry that slipped past the status check still cannot pay twice.
    """
    award = {"user_id": ticket.assignee_id, "related_ticket": ticket, "approved_by": approved_by}
    entries = []
    if credits:
        entries.append(Transaction(type=Transaction.Type.CREDIT_AWARD, amount_cr=credits, **award))
    if pay:
        entries.append(Transaction(type=Transaction.Type.PAYMENT, amount_pay=pay, **award))
    wallet = ledger.post(ticket.assignee_id, entries, credits=credits, pay=pay)
    if wallet is None:  # only a deduction can be refused, and an award is never negative
        raise RuntimeError("The ledger refused a reward.")
    publish(
        [ticket.assignee_id],
        "reward_granted",
        {
            "user_id": ticket.assignee_id,
            "credits": credits,
            "pay": str(pay),
            "ticket_id": ticket.id,
        },
    )
    return wallet


@retry_on_write_conflict
def adjust(*, actor: User, user_id: object, credits: Any = 0, pay: Any = 0, reason: str | None) -> Transaction:
    """A manual correction of a subordinate's credits and/or balance (`manual_adj`), with a reason."""
    credits = parse_credits(credits, allow_negative=True)
    pay = parse_money(pay, allow_negative=True)
    reason = (reason or "").strip()
    if not reason:
        message = "A reason is required for a manual adjustment."
        raise Invalid(message, field_errors={"reason": [message]})
    if len(reason) > REASON_MAX:
        raise Invalid(f"A reason has at most {REASON_MAX} characters.", field_errors={"reason": ["Too long."]})
    refuse_bidi_controls(reason, field="reason", label="A reason")
    if not credits and not pay:
        raise Invalid("An adjustment must change credits or pay.")
    person = person_for(actor, user_id)
    if not can(actor, Action.ADJUST_CREDITS, person):
        raise Forbidden("Manual adjustments are for marshals and above, over their subordinates.")
    with atomic():
        entry = Transaction(
            user_id=person.id,
            type=Transaction.Type.MANUAL_ADJ,
            amount_cr=credits,
            amount_pay=pay,
            approved_by=actor,
            reason=reason,
        )
        # Conditional on the balance staying at or above zero, so two deductions at once cannot overdraw.
        if not ledger.post(person.id, [entry], credits=credits, pay=pay):
            message = "The adjustment would take the balance below zero."
            raise Invalid(message, field_errors={"pay": [message]})
        notify(
            recipients=[person],
            message=(
                f"{shown_name(actor)} adjusted your account by {amounts_in_words(credits, pay, signed=True)}: {reason}"
            ),
        )
    return entry


REVERSIBLE = (Transaction.Type.CREDIT_AWARD, Transaction.Type.PAYMENT, Transaction.Type.MANUAL_ADJ)
AWARD_TYPES = (Transaction.Type.CREDIT_AWARD, Transaction.Type.PAYMENT)


def reversible_entry(actor: User, entry_id: object) -> Transaction:
    """A ledger entry `actor` may reverse, or NotFound / Forbidden / Conflict saying why not.

    Reversible: a ticket's credit award or payment, and a manual adjustment. The reverser must be allowed to
    adjust the member's account (marshal and up, over subordinates) and be the entry's approver or someone
    above the approver, so nobody undoes the decision of a superior. Niki may reverse anything.
    """
    entry = first_of(
        Transaction.objects.filter(id=str(entry_id)).select_related("user", "approved_by", "related_ticket")
    )
    if entry is None or not (entry.user_id == actor.id or can(actor, Action.ADJUST_CREDITS, entry.user)):
        raise NotFound("No such ledger entry.")
    if entry.type not in REVERSIBLE:
        raise Invalid("Only ticket awards, payments and manual adjustments can be reversed.")
    if not can(actor, Action.ADJUST_CREDITS, entry.user):
        raise Forbidden("Nobody reverses an entry of their own account.")
    approver = entry.approved_by
    if actor.rank != Rank.NIKI and approver.id != actor.id and not actor.is_above(approver):
        raise Forbidden("Only the approver of this entry, or someone above them, may reverse it.")
    if Transaction.objects.filter(type=Transaction.Type.REVERSAL, reverses_id=entry.id).exists():
        raise Conflict("This entry has already been reversed.")
    return entry


@retry_on_write_conflict
def reverse_entry(*, actor: User, entry_id: object, reason: str | None) -> list[Transaction]:
    """Undo a decided award or adjustment with new, opposite ledger entries and a reason (docs/rules.md 18).

    Nothing is changed or removed: each reversed entry gets one `reversal` entry of the opposite amounts, and
    the wallet moves by them in the same atomic unit. Reversing a ticket's award reverses its credit award
    and its payment together. A unique constraint lets each entry be reversed once, even under races.
    """
    reason = _reason(reason)
    entry = reversible_entry(actor, entry_id)
    if entry.type in AWARD_TYPES:
        award = list(
            Transaction.objects.filter(related_ticket_id=entry.related_ticket_id, type__in=AWARD_TYPES).order_by("type")
        )
        reversed_ids = set(
            Transaction.objects.filter(
                type=Transaction.Type.REVERSAL, reverses_id__in=[item.id for item in award]
            ).values_list("reverses_id", flat=True)
        )
        entries = [item for item in award if item.id not in reversed_ids]
        if entry.id in reversed_ids:
            raise Conflict("This entry has already been reversed.")  # by a request that finished meanwhile
    else:
        entries = [entry]
    credits = -sum(item.amount_cr for item in entries)
    pay = -sum((item.amount_pay for item in entries), Decimal("0.00"))
    try:
        with atomic():
            reversals = [
                Transaction(
                    user_id=item.user_id,
                    type=Transaction.Type.REVERSAL,
                    amount_cr=-item.amount_cr,
                    amount_pay=-item.amount_pay,
                    related_ticket_id=item.related_ticket_id,
                    approved_by=actor,
                    reason=reason,
                    reverses=item,
                )
                for item in entries
            ]
            if not ledger.post(entry.user_id, reversals, credits=credits, pay=pay):
                raise Invalid(
                    "The reversal would take the balance below zero: the money has been spent.",
                    field_errors={"reason": ["The balance does not cover this reversal."]},
                )
            ticket = entry.related_ticket if entry.type in AWARD_TYPES else None
            what = f"the award for {ticket.title}" if ticket else "an adjustment"
            notify(
                recipients=[entry.user],
                message=f"{shown_name(actor)} reversed {what}: {_signed_amounts(credits, pay)}. {reason}",
                ticket=ticket,
            )
    except IntegrityError:
        raise Conflict("This entry has already been reversed.") from None
    return reversals


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Give a reason.", field_errors={"reason": ["Give a reason."]})
    if len(reason) > REASON_MAX:
        raise Invalid(f"A reason has at most {REASON_MAX} characters.", field_errors={"reason": ["Too long."]})
    return reason


def _signed_amounts(credits: int, pay: Decimal) -> str:
    parts = []
    if credits:
        parts.append(f"{credits:+d} credit{'' if abs(credits) == 1 else 's'}")
    if pay:
        parts.append(f"{'-' if pay < 0 else '+'}¤{abs(pay):.2f}")
    return " and ".join(parts) or "nothing"


def run_payroll(*, period: Any = None, moment: datetime | None = None) -> PayrollReport:
    """Pay a completed week (`2026-W48`; by default the last one before `moment`): each member's weekly
    salary and credit decay, as ledger entries approved by Nyx (docs/rules.md section 9).

    Each member is settled in an atomic unit of their own: their entries, wallet and notification together.
    The ledger's unique constraints refuse a second salary or decay for a member and week, so runs at the
    same time, or a rerun after a crash, pay nobody twice; a rerun settles whoever is left. The week is
    recorded as paid (`PayrollRun`) once everyone is settled, and is not run again after that.
    """
    moment = moment or now()
    period = payroll_period(period, moment=moment)
    try:
        authority = User.objects.get(rank=Rank.NYX)
    except User.DoesNotExist:
        raise Invalid("There is no Nyx account to authorise the payroll: run manage.py bootstrap first.") from None
    report = payroll_preview(period)
    if report.already_paid:
        return report
    paid = []
    for line in report.lines:
        try:
            settled = _settle_member(line.member.id, period=period, authority=authority)
        except IntegrityError:
            continue  # another run settled this member first
        except Conflict:
            report.complete = False  # lost a write race; the member is settled by the winner or by a rerun
            continue
        if settled is not None:
            paid.append(settled)
    report.lines = paid
    if report.complete:
        try:
            with atomic():
                PayrollRun.objects.create(period=period.name)
        except IntegrityError:
            pass  # another run recorded it first
    return report


def run_due_payroll(moment: datetime | None = None) -> PayrollReport | None:
    """The worker's payroll: the last completed week, unless it is paid already. None when nothing was due."""
    period = last_completed_period(moment or now())
    if is_week_paid(period):
        return None
    return run_payroll(period=period.name, moment=moment)


@retry_on_write_conflict
def _settle_member(member_id: str, *, period: Period, authority: User) -> PayrollLine | None:
    """One member's salary and decay for `period`, from their rank and credits as they are now."""
    hours = settings.PAYROLL_HOURS_PER_PERIOD
    percent = settings.PAYROLL_DECAY_PERCENT
    with atomic():
        member = payroll_members(period).filter(id=member_id).first()
        if member is None:
            return None  # deactivated meanwhile
        line = payroll_line(member)
        entries = []
        if line.salary:
            hourly = rate_for(member.rank).hourly_pay
            entries.append(
                Transaction(
                    user_id=member.id,
                    type=Transaction.Type.SALARY,
                    amount_pay=line.salary,
                    approved_by=authority,
                    period=period.name,
                    reason=f"Weekly salary for {period}: {_plain(hours)} h at ¤{hourly}.",
                )
            )
        if line.decay:
            entries.append(
                Transaction(
                    user_id=member.id,
                    type=Transaction.Type.DECAY,
                    amount_cr=-line.decay,
                    approved_by=authority,
                    period=period.name,
                    reason=f"Credit decay for {period}: {_plain(percent)}% of {member.credits} credits.",
                )
            )
        if not entries:
            return None
        if not ledger.post(member.id, entries, credits=-line.decay, pay=line.salary, cover_credits=True):
            raise Conflict(f"{shown_name(member)}'s credits changed meanwhile.")
        notify(recipients=[member], message=" ".join(entry.reason for entry in entries))
    return line


def _plain(number: Decimal) -> str:
    """A Decimal without trailing zeros: 40, 37.5, 2.25."""
    return f"{number.normalize():f}"

"""Writes to the ledger. A credit or payment never changes without its ledger entry in the same atomic unit."""

from django.db.models import F

from accounts.models import User
from accounts.policy import Action, can
from accounts.presentation import shown_name
from accounts.selectors import person_for
from accounts.services import notify
from directorate.db import atomic, now
from directorate.errors import Forbidden, Invalid
from directorate.events import publish
from economy.models import Transaction
from economy.validation import parse_credits, parse_money

REASON_MAX = 500


def pay_ticket_reward(*, ticket, credits, pay, approved_by):
    """Pay an approved ticket's reward to its assignee. Must run inside the approving atomic unit.

    The ledger's unique constraints refuse a second payout for the same ticket, so a
    retry that slipped past the status check still cannot pay twice.
    """
    entries = []
    if credits:
        entries.append(
            Transaction(
                user_id=ticket.assignee_id,
                type=Transaction.Type.CREDIT_AWARD,
                amount_cr=credits,
                related_ticket=ticket,
                approved_by=approved_by,
            )
        )
    if pay:
        entries.append(
            Transaction(
                user_id=ticket.assignee_id,
                type=Transaction.Type.PAYMENT,
                amount_pay=pay,
                related_ticket=ticket,
                approved_by=approved_by,
            )
        )
    Transaction.objects.bulk_create(entries)
    _move_wallet(ticket.assignee_id, credits=credits, pay=pay)  # an award is never negative
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
    return entries


def adjust(*, actor, user_id, credits=0, pay=0, reason):
    """A manual correction of a subordinate's credits and/or balance (`manual_adj`), with a reason."""
    credits = parse_credits(credits, allow_negative=True)
    pay = parse_money(pay, allow_negative=True)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A reason is required for a manual adjustment.", field_errors={"reason": ["Required."]})
    if len(reason) > REASON_MAX:
        raise Invalid(f"A reason has at most {REASON_MAX} characters.", field_errors={"reason": ["Too long."]})
    if not credits and not pay:
        raise Invalid("An adjustment must change credits or pay.")
    person = person_for(actor, user_id)
    if not can(actor, Action.ADJUST_CREDITS, person):
        raise Forbidden("Manual adjustments are for marshals and above, over their subordinates.")
    with atomic():
        # Conditional on the balance staying at or above zero, so two deductions at once cannot overdraw.
        if not _move_wallet(person.id, credits=credits, pay=pay):
            raise Invalid("The adjustment would take the balance below zero.", field_errors={"pay": ["Too large."]})
        entry = Transaction.objects.create(
            user_id=person.id,
            type=Transaction.Type.MANUAL_ADJ,
            amount_cr=credits,
            amount_pay=pay,
            approved_by=actor,
            reason=reason,
        )
        notify(
            recipients=[person],
            message=f"{shown_name(actor)} adjusted your account: {credits:+d} credits, {pay:+.2f} pay. {reason}",
        )
    return entry


def _move_wallet(user_id, *, credits, pay):
    """Add to a wallet; a deduction applies only while the balance covers it. Returns whether it applied."""
    wallet = User.objects.filter(id=user_id)
    if pay < 0:
        wallet = wallet.filter(balance__gte=-pay)
    changed = wallet.update(credits=F("credits") + credits, balance=F("balance") + pay, updated_at=now())
    if changed != 1:
        return False
    new_credits, new_balance = User.objects.filter(id=user_id).values_list("credits", "balance").get()
    publish(
        [user_id], "credits_update", {"user_id": user_id, "new_credits": new_credits, "new_balance": str(new_balance)}
    )
    return True

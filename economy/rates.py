"""Base pay and credit rates (spec section 5) and the thresholds that make an award abnormal."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from accounts.ranks import Rank
from directorate.money import CENT

ABNORMAL_CREDITS = 100  # an award of more credits than this is abnormal
ABNORMAL_PAY_MULTIPLE = 5  # ...and so is pay above this many hours of the assignee's base pay

# Bounds on what anyone may propose or approve, so a typo cannot create an absurd award.
MAX_CREDITS = 10_000
MAX_PAY = Decimal("100000.00")
MAX_HOURS = Decimal("744")  # one month, around the clock


@dataclass(frozen=True)
class Rate:
    hourly_pay: Decimal
    credits_per_task: int


BASE_RATES = {
    Rank.ASSET: Rate(Decimal("3.00"), 1),
    Rank.SHADOW: Rate(Decimal("4.50"), 2),
    Rank.MARSHAL: Rate(Decimal("6.00"), 3),
    Rank.EXECUTOR: Rate(Decimal("8.00"), 4),
}


def rate_for(rank):
    """The base rate of a rank. Nyx's pay is configurable and it earns no credits; Niki has no rate."""
    rank = Rank(rank)
    if rank in BASE_RATES:
        return BASE_RATES[rank]
    if rank == Rank.NYX:
        return Rate(settings.NYX_HOURLY_PAY, 0)
    return Rate(Decimal("0.00"), 0)


def abnormal_pay_limit(rank):
    return (rate_for(rank).hourly_pay * ABNORMAL_PAY_MULTIPLE).quantize(CENT)


def is_abnormal(rank, *, credits, pay):
    """Spec 5.2.3: more than 100 credits, or pay above 5 x the base hourly pay of the assignee's rank."""
    return credits > ABNORMAL_CREDITS or pay > abnormal_pay_limit(rank)


def needs_confirmation(rank, *, credits, pay):
    """Whether paying or adjusting these amounts asks the decider to confirm first (docs/rules.md section 18):
    when they are as large as an abnormal award for the person's rank, counting a deduction by its size."""
    return is_abnormal(rank, credits=abs(credits), pay=abs(pay))


def default_proposal(rank, *, hours):
    """The reward proposed when the assignee gives none: base credit, and base pay x hours worked."""
    rate = rate_for(rank)
    return rate.credits_per_task, (rate.hourly_pay * hours).quantize(CENT)


def weekly_salary(rank):
    """A week's salary (docs/rules.md 9): the rank's base hourly pay x the configured hours per week."""
    return (rate_for(rank).hourly_pay * settings.PAYROLL_HOURS_PER_PERIOD).quantize(CENT)


def credit_decay(credits):
    """The credits a week's decay takes: the configured percentage of `credits`, rounded down.

    Never more than `credits`, so decay never takes anyone below zero; nothing from zero or negative credits.
    """
    if credits <= 0:
        return 0
    return int(credits * settings.PAYROLL_DECAY_PERCENT / 100)

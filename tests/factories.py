"""Test data made through the real services: the shared password, ticket helpers and ledger entries.

Every helper goes through the services (`tickets.services`, `economy.ledger`), so what it makes passes the same
checks as a member's request and keeps the wallets and daily totals the ledger explains.
A module that wants other defaults binds them once, e.g. `submitted = partial(factories.submitted, credits=7)`.
"""

from decimal import Decimal

from directorate.db import atomic
from economy.ledger import post
from economy.models import Transaction
from tickets import services

PASSWORD = "correct-horse-battery-staple"

# The people of the `org` fixture (tests/conftest.py), from the top down.
ORG = (
    "niki",
    "nyx",
    "executor",
    "executor_2",
    "marshal",
    "marshal_2",
    "marshal_3",
    "shadow",
    "shadow_2",
    "asset",
    "asset_2",
    "asset_3",
)

DIRECTIVE = {"title": "Observe the east depot", "category": "Intel", "sub_category": "Recon Report"}
ROUTINE = {"title": "Sweep sector 7", "category": "Order", "sub_category": "Routine Directive"}
SPECIAL_OPERATION = {"category": "Order", "sub_category": "Special Operation"}


def new_ticket(author, assignee, **fields):
    """A ticket from `author` to `assignee` (a directive to observe the east depot unless `fields` say else)."""
    return services.create_ticket(actor=author, assignee_id=assignee.id, **{**DIRECTIVE, **fields})


def started(author, assignee, **fields):
    """`new_ticket`, with the assignee's work started; read back."""
    ticket = new_ticket(author, assignee, **fields)
    services.start_work(actor=assignee, ticket_id=ticket.id)
    return reload(ticket)


def submitted(author, assignee=None, *, credits=1, pay="3.00", hours=None, **fields):
    """`started`, then submitted for review with the proposed reward; read back. No assignee: the author's own."""
    assignee = assignee or author
    ticket = started(author, assignee, **fields)
    services.submit_for_review(
        actor=assignee, ticket_id=ticket.id, reward_credits=credits, reward_pay=pay, hours_worked=hours
    )
    return reload(ticket)


def reload(obj):
    """A fresh copy of a model instance from the database."""
    return type(obj).objects.get(id=obj.id)


def wallet(person):
    """(credits, balance) as stored now."""
    person = reload(person)
    return person.credits, person.balance


def ledger_entry(member, *, approved_by, type, credits=0, pay="0.00", **fields):
    """One ledger entry of `member`, written as every entry is (`economy.ledger.post`): with its wallet move and
    the daily totals, in one unit. For entries no service makes as such (e.g. a payout a race let slip)."""
    pay = Decimal(pay)
    entry = Transaction(user=member, type=type, amount_cr=credits, amount_pay=pay, approved_by=approved_by, **fields)
    with atomic():
        assert post(member.id, [entry], credits=credits, pay=pay)
    return entry

"""Schemas of the JSON API for the ledger and manual adjustments."""

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictStr

from accounts.schemas import PersonOut, person_out
from directorate.schemas import CreditsIn, Money, MoneyIn, money
from economy.models import Transaction

TransactionType = Literal[tuple(Transaction.Type.values)]


class TicketRefOut(Schema):
    id: str
    title: str


class TransactionOut(Schema):
    id: str
    type: TransactionType
    amount_cr: int
    amount_pay: Money
    related_ticket: TicketRefOut | None = Field(description="Shown only when you may see that ticket.")
    approved_by: PersonOut
    reason: str
    period: str = Field(description='The payroll week of a `salary` or `decay` entry, like "2026-W48"; else empty.')
    reverses: str | None = Field(None, description="For a `reversal`: the id of the entry it reverses.")
    ts: datetime


class LedgerOut(Schema):
    owner: PersonOut
    credits: int
    balance: Money
    items: list[TransactionOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class LedgerQuery(Schema):
    user: StrictStr | None = Field(None, max_length=100, description="Whose ledger: yours when absent.")
    after: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")


class AdjustIn(Schema):
    credits: CreditsIn = Field(0, description="Whole number, negative for a penalty.")
    pay: MoneyIn = Field("0", description='An amount such as "-5.00"; the balance never goes below zero.')
    reason: StrictStr = Field(description="Required, at most 500 characters.")


class ReverseIn(Schema):
    reason: StrictStr = Field(description="Required, at most 500 characters.")


def transaction_out(entry, *, visible_ticket_ids):
    ticket = entry.related_ticket if entry.related_ticket_id in visible_ticket_ids else None
    return TransactionOut(
        id=entry.id,
        type=entry.type,
        amount_cr=entry.amount_cr,
        amount_pay=money(entry.amount_pay),
        related_ticket=None if ticket is None else TicketRefOut(id=ticket.id, title=ticket.title),
        approved_by=person_out(entry.approved_by),
        reason=entry.reason,
        period=entry.period,
        reverses=entry.reverses_id,
        ts=entry.ts,
    )

"""Schemas of the JSON API for tickets. Every person in them is shown through `accounts.schemas.person_out`."""

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictStr, ValidationError

from accounts.presentation import shown_person
from accounts.schemas import PersonOut, RankName, person_out
from directorate.schemas import CreditsIn, Money, MoneyIn, money
from tickets.categories import CATEGORIES
from tickets.models import ApprovalStep, Ticket
from tickets.selectors import SCOPES, TicketFilters

Category = Literal[tuple(CATEGORIES)]
Status = Literal[tuple(Ticket.Status.values)]
Visibility = Literal[tuple(Ticket.Visibility.values)]
Scope = Literal[tuple(SCOPES)]
Decision = Literal[tuple(ApprovalStep.Decision.values)]
ObjectId = StrictStr  # ids are 24 hex digits; any other text is simply "not found"


class TicketIn(Schema):
    title: StrictStr = Field(description="1 to 200 characters.")
    category: Category
    sub_category: StrictStr = Field(max_length=30, description="One of the category's sub-categories (spec 4).")
    assignee_id: ObjectId = Field(
        max_length=100, description="Your direct superior (a request upward), yourself or a subordinate (a directive)."
    )
    body_md: StrictStr = Field("", description="Markdown, at most 20,000 characters.")
    visibility: Visibility = "hierarchical"
    watcher_ids: list[ObjectId] = Field(default_factory=list, max_length=50)
    subject_id: ObjectId | None = Field(
        None, max_length=100, description="Personnel tickets: the person concerned (yourself or a subordinate)."
    )


class SubmitIn(Schema):
    reward_credits: CreditsIn | None = Field(None, description="Whole number 0-10,000; default: your rank's base.")
    reward_pay: MoneyIn | None = Field(None, description='An amount such as "12.50"; or give hours_worked.')
    hours_worked: MoneyIn | None = Field(None, description='Hours such as "2.5", to compute the default pay.')


class ApproveIn(Schema):
    credits: CreditsIn = Field(description="The credits approved: the proposal or an adjusted amount.")
    pay: MoneyIn = Field(description='The pay approved, such as "12.50".')
    note: StrictStr = Field("", description="At most 500 characters.")


class NoteIn(Schema):
    note: StrictStr = Field("", description="At most 500 characters.")


class SendBackIn(Schema):
    comment: StrictStr = Field(description="What needs rework (required).")


class DenyIn(Schema):
    reason: StrictStr = Field(description="Why the request is denied: required, at most 500 characters.")


class CommentIn(Schema):
    body_md: StrictStr = Field(description="Markdown, 1 to 10,000 characters.")


class WatcherIn(Schema):
    user_id: ObjectId | None = Field(None, max_length=100, description="Who is to watch; yourself when absent.")


class TicketOut(Schema):
    id: str
    title: str
    body_md: str
    category: str
    sub_category: str
    status: Status
    visibility: Visibility
    author: PersonOut
    assignee: PersonOut
    reviewer: PersonOut | None
    subject: PersonOut | None
    target_rank: RankName | None
    reward_credits: int
    reward_pay: Money
    proposed_by: PersonOut | None
    hours_worked: Money | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class CommentOut(Schema):
    id: str
    author: PersonOut
    body_md: str
    created_at: datetime


class ApprovalStepOut(Schema):
    approver: PersonOut
    decision: Decision
    credits: int
    pay: Money
    note: str
    ts: datetime


class TicketDetailOut(TicketOut):
    comments: list[CommentOut]
    watchers: list[PersonOut]
    approval_log: list[ApprovalStepOut]


class TicketPageOut(Schema):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class TicketQuery(Schema):
    """The filters of a ticket list: the one reading of them, for the tickets page and the API alike."""

    scope: Scope = "all"
    status: Status | None = None
    category: Category | None = None
    assignee: StrictStr | None = Field(None, pattern=r"^[0-9a-f]{24}$", description="An assignee's id.")
    who: str = Field("", max_length=100, description="Part of the assignee's name.")
    q: str = Field("", max_length=100, description="Part of the title.")
    after: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")
    order: Literal["recent", "oldest"] = Field("recent", description="`oldest`: least recently changed first.")

    @classmethod
    def lenient(cls, data):
        """The tickets page's reading of its query string, where a person may follow an old or edited link:
        a value the API refuses is dropped (the filter is off) and text is cut to its length. A broken page
        link (`after`) is still refused when the page is read."""
        values = {name: data[name] for name in cls.model_fields if data.get(name)}
        for name in ("who", "q"):
            if name in values:
                values[name] = values[name].strip()[: cls.model_fields[name].metadata[0].max_length]
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            for problem in error.errors():
                values.pop(problem["loc"][0], None)
            return cls.model_validate(values)

    def filters(self):
        return TicketFilters(
            scope=self.scope,
            status=self.status or "",
            category=self.category or "",
            assignee_id=self.assignee or "",
            assignee_name=self.who.strip(),
            text=self.q.strip(),
            order=self.order,
        )


def ticket_fields(ticket):
    return {
        "id": ticket.id,
        "title": ticket.title,
        "body_md": ticket.body_md,
        "category": ticket.category,
        "sub_category": ticket.sub_category,
        "status": ticket.status,
        "visibility": ticket.visibility,
        "author": person_out(ticket.author),
        "assignee": person_out(ticket.assignee),
        "reviewer": person_out(ticket.reviewer),
        "subject": person_out(_person(ticket, "subject")),
        # The rank of a hidden assignee would name them: shown only with the assignee.
        "target_rank": ticket.target_rank if shown_person(ticket.assignee) is not None else None,
        "reward_credits": ticket.reward_credits,
        "reward_pay": money(ticket.reward_pay),
        "proposed_by": person_out(_person(ticket, "proposed_by")),
        "hours_worked": None if ticket.hours_worked is None else money(ticket.hours_worked),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "closed_at": ticket.closed_at,
    }


def _person(ticket, field):
    """`ticket.<field>`, taken from the author, assignee or reviewer already loaded when it is one of them."""
    person_id = getattr(ticket, f"{field}_id")
    if person_id is None:
        return None
    for known in ("assignee", "author", "reviewer"):
        if getattr(ticket, f"{known}_id") == person_id:
            return getattr(ticket, known)
    return getattr(ticket, field)


def ticket_out(ticket):
    return TicketOut(**ticket_fields(ticket))


def comment_out(comment):
    return CommentOut(
        id=comment.id, author=person_out(comment.author), body_md=comment.body_md, created_at=comment.created_at
    )


def approval_step_out(step):
    return ApprovalStepOut(
        approver=person_out(step.approver),
        decision=step.decision,
        credits=step.credits,
        pay=money(step.pay),
        note=step.note,
        ts=step.ts,
    )

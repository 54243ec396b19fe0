"""The action schema Nyx answers in, and Niki commands in, and the dispatcher that carries one action out.

Spec section 8's wording: `{"action": "create_ticket", "data": {..., "reward_credits": X, "reward_pay": Y}}`
and `{"action": "approve_rewards", "ticket_id": "...", "credits": X, "pay": Y}`, plus `comment`, `escalate`
and `send_back`. Validation here is only about shape (strict types, no extra fields, bounded strings);
every rule is enforced by the services the dispatcher calls, as the acting member, exactly as for a person.
"""

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints, TypeAdapter, ValidationError

from directorate.errors import DomainError, Invalid

REASONING_MAX = 1000
BODY_MAX = 4000
NOTE_MAX = 500
TOPIC_MAX = 200
MAX_ACTIONS = 12

Text = Annotated[StrictStr, StringConstraints(max_length=BODY_MAX)]
Reasoning = Annotated[StrictStr, StringConstraints(max_length=REASONING_MAX)]
Note = Annotated[StrictStr, StringConstraints(max_length=NOTE_MAX)]
Id = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]
Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]
# Amounts stay as given (a whole number, or text such as "12.50"); the services parse and bound them.
Amount = StrictInt | Annotated[StrictStr, StringConstraints(min_length=1, max_length=20)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TicketData(Strict):
    title: Annotated[StrictStr, StringConstraints(min_length=1, max_length=200)]
    body_md: Text = ""
    category: Name
    sub_category: Name
    assignee_id: Id
    reward_credits: Amount | None = None
    reward_pay: Amount | None = None


class CreateTicket(Strict):
    action: Literal["create_ticket"]
    data: TicketData
    reasoning: Reasoning = ""


class ApproveRewards(Strict):
    action: Literal["approve_rewards"]
    ticket_id: Id
    credits: Amount
    pay: Amount
    reasoning: Reasoning = ""


class CommentOn(Strict):
    action: Literal["comment"]
    ticket_id: Id
    body_md: Annotated[StrictStr, StringConstraints(min_length=1, max_length=BODY_MAX)]
    reasoning: Reasoning = ""


class Escalate(Strict):
    action: Literal["escalate"]
    ticket_id: Id
    note: Note = ""
    reasoning: Reasoning = ""


class SendBack(Strict):
    action: Literal["send_back"]
    ticket_id: Id
    note: Annotated[StrictStr, StringConstraints(min_length=1, max_length=NOTE_MAX)]
    reasoning: Reasoning = ""


# Niki's overrides: accepted only on Niki's own route, never from the model.


class OverrideApprove(Strict):
    """Close and pay a ticket awaiting review, whoever its reviewer, past any escalation."""

    action: Literal["override_approve"]
    ticket_id: Id
    credits: Amount | None = None  # None: the amounts as proposed
    pay: Amount | None = None
    reasoning: Reasoning = ""


class Adjust(Strict):
    action: Literal["adjust"]
    user_id: Id
    credits: Amount = 0
    pay: Amount = 0
    reason: Annotated[StrictStr, StringConstraints(min_length=1, max_length=NOTE_MAX)]
    reasoning: Reasoning = ""


class MoveMember(Strict):
    """Change a member's rank, superior, or both."""

    action: Literal["move_member"]
    user_id: Id
    rank: Name | None = None
    reports_to_id: Id | None = None
    reasoning: Reasoning = ""


class Broadcast(Strict):
    """A command to every member, delivered as notifications from the Directorate."""

    action: Literal["broadcast"]
    message: Annotated[StrictStr, StringConstraints(min_length=1, max_length=NOTE_MAX)]
    reasoning: Reasoning = ""


class RequestDirectives(Strict):
    """Ask Nyx for directives on a topic, as an officer does on Nyx's console."""

    action: Literal["request_directives"]
    topic: Annotated[StrictStr, StringConstraints(min_length=1, max_length=TOPIC_MAX)]
    reasoning: Reasoning = ""


NyxAction = Annotated[CreateTicket | ApproveRewards | CommentOn | Escalate | SendBack, Field(discriminator="action")]
NikiAction = Annotated[
    CreateTicket
    | ApproveRewards
    | CommentOn
    | Escalate
    | SendBack
    | OverrideApprove
    | Adjust
    | MoveMember
    | Broadcast
    | RequestDirectives,
    Field(discriminator="action"),
]
NYX_ACTIONS = ("create_ticket", "approve_rewards", "comment", "escalate", "send_back")


_nyx_action = TypeAdapter(NyxAction)
_niki_action = TypeAdapter(NikiAction)


def describe_validation_error(error):
    """A short, safe reason naming the first problems of an invalid action."""
    parts = []
    for problem in error.errors()[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ())) or "action"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "Invalid action: " + "; ".join(parts)


def parse_nyx_action(value):
    """One action of Nyx's schema from a parsed JSON value, or Invalid."""
    try:
        return _nyx_action.validate_python(value)
    except ValidationError as error:
        raise Invalid(describe_validation_error(error)) from None


def parse_niki_action(value):
    """One action of Niki's schema (Nyx's plus the overrides), or Invalid."""
    try:
        return _niki_action.validate_python(value)
    except ValidationError as error:
        raise Invalid(describe_validation_error(error)) from None


def action_ticket_id(action):
    return getattr(action, "ticket_id", None)


@dataclass
class Outcome:
    done: bool
    reason: str
    ticket_id: str | None = None
    status: int = 200
    field_errors: dict = field(default_factory=dict)

    @property
    def label(self):
        return "done" if self.done else "refused"


def perform(action, *, actor):
    """Carry out one validated schema action through the services as `actor`.

    Raises the service's DomainError when refused; each service runs in its own atomic unit,
    so a refusal has written nothing. Returns (summary, ticket id or None).
    """
    from economy.validation import parse_credits, parse_money
    from tickets import services as tickets

    if isinstance(action, CreateTicket):
        data = action.data
        body = data.body_md
        if data.reward_credits is not None or data.reward_pay is not None:
            # A directive carries the reward it offers; the assignee proposes it at submission,
            # where it is reviewed (and escalated when abnormal) like any other proposal.
            credits = parse_credits(data.reward_credits if data.reward_credits is not None else 0)
            pay = parse_money(data.reward_pay if data.reward_pay is not None else 0)
            body = f"{body}\n\nOffered reward: {credits} credits and ¤{pay}.".strip()
        ticket = tickets.create_ticket(
            actor=actor,
            title=data.title,
            body_md=body,
            category=data.category,
            sub_category=data.sub_category,
            assignee_id=data.assignee_id,
        )
        return f"Directive created: {ticket.title}", ticket.id
    if isinstance(action, ApproveRewards):
        ticket = tickets.approve_reward(
            actor=actor,
            ticket_id=action.ticket_id,
            credits=action.credits,
            pay=action.pay,
            note=action.reasoning[:NOTE_MAX],
        )
        if ticket.status == ticket.Status.CLOSED:
            return f"Approved: {ticket.reward_credits} credits and ¤{ticket.reward_pay}; ticket closed.", ticket.id
        return "Abnormal award: recommended and escalated.", ticket.id
    if isinstance(action, CommentOn):
        tickets.add_comment(actor=actor, ticket_id=action.ticket_id, body_md=action.body_md)
        return "Comment added.", action.ticket_id
    if isinstance(action, Escalate):
        tickets.escalate(actor=actor, ticket_id=action.ticket_id, note=action.note or action.reasoning[:NOTE_MAX])
        return "Escalated.", action.ticket_id
    if isinstance(action, SendBack):
        tickets.send_back(actor=actor, ticket_id=action.ticket_id, comment=action.note)
        return "Sent back for rework.", action.ticket_id
    raise Invalid("Unknown action.")


def dispatch(action, *, actor):
    """`perform`, with a refusal turned into an Outcome instead of an exception."""
    try:
        summary, ticket_id = perform(action, actor=actor)
    except DomainError as error:
        return Outcome(False, error.message, action_ticket_id(action), error.status)
    return Outcome(True, summary, ticket_id)

"""The JSON API's tickets (spec 6, docs/api.md): reads through `tickets.selectors`, every write through
`tickets.services`. What the caller may not see answers 404, exactly like what does not exist."""

from ninja import Query, Router, Status

from accounts.schemas import PersonOut, person_out
from directorate.schemas import errors
from tickets import selectors, services
from tickets.models import Ticket
from tickets.schemas import (
    ApproveIn,
    CommentIn,
    CommentOut,
    DenyIn,
    NoteIn,
    SendBackIn,
    SubmitIn,
    TicketDetailOut,
    TicketIn,
    TicketOut,
    TicketPageOut,
    TicketQuery,
    WatcherIn,
    approval_step_out,
    comment_out,
    ticket_fields,
    ticket_out,
)

router = Router(tags=["tickets"])

# Refusals of a decision on a ticket: bad input, not signed in, not yours to decide, not visible, changed meanwhile.
DECISION_ERRORS = errors(400, 401, 403, 404, 409)


@router.get("", response={200: TicketPageOut, **errors(400, 401)})
def list_tickets(request, filters: Query[TicketQuery]):
    """The tickets you may see, most recently changed first, 25 a page: the same filters as the tickets page."""
    chosen = selectors.filtered_tickets(request.auth, filters.filters())
    tickets = chosen.select_related("assignee", "author", "reviewer")
    page = selectors.keyset_page(tickets, filters.after)
    return {"items": [ticket_out(ticket) for ticket in page.items], "next_cursor": page.next_cursor}


@router.post("", response={201: TicketOut, **errors(400, 401, 403, 404)})
def create_ticket(request, payload: TicketIn):
    """Open a ticket: upward to your direct superior, or as a directive to yourself or a subordinate."""
    ticket = services.create_ticket(actor=request.auth, **payload.model_dump())  # TicketIn names the service's fields
    return Status(201, ticket_out(ticket))


@router.get("/{ticket_id}", response={200: TicketDetailOut, **errors(401, 404)})
def ticket_detail(request, ticket_id: str):
    """One ticket with its comments, watchers and approval log."""
    ticket = selectors.ticket_for(request.auth, ticket_id)
    return TicketDetailOut(
        **ticket_fields(ticket),
        comments=[comment_out(comment) for comment in selectors.comments_of(ticket)],
        watchers=[person_out(watcher) for watcher in selectors.watchers_of(ticket)],
        approval_log=[approval_step_out(step) for step in selectors.approval_log_of(ticket)],
    )


def decided(ticket):
    """The ticket as stored after a decision (a service may change it with a conditional update alone)."""
    ticket.refresh_from_db(from_queryset=Ticket.objects.select_related("author", "assignee", "reviewer"))
    return ticket_out(ticket)


@router.patch("/{ticket_id}/start", response={200: TicketOut, **DECISION_ERRORS})
def start(request, ticket_id: str):
    """The assignee starts work: open -> in_progress."""
    return decided(services.start_work(actor=request.auth, ticket_id=ticket_id))


@router.patch("/{ticket_id}/submit", response={200: TicketOut, **DECISION_ERRORS})
def submit(request, ticket_id: str, payload: SubmitIn):
    """The assignee submits the work for review with a reward proposal: in_progress -> awaiting_review."""
    ticket = services.submit_for_review(
        actor=request.auth,
        ticket_id=ticket_id,
        reward_credits=payload.reward_credits,
        reward_pay=payload.reward_pay,
        hours_worked=payload.hours_worked,
    )
    return decided(ticket)


@router.patch("/{ticket_id}/approve", response={200: TicketOut, **DECISION_ERRORS})
def approve(request, ticket_id: str, payload: ApproveIn):
    """The current reviewer approves the final amounts. A normal award closes and pays the ticket; an
    abnormal one without the authority to close it is recorded as a recommendation and moves up."""
    ticket = services.approve_reward(
        actor=request.auth, ticket_id=ticket_id, credits=payload.credits, pay=payload.pay, note=payload.note
    )
    # As the service left it: it sets every field it changes, as the ticket page relies on (desk/views.py).
    return ticket_out(ticket)


@router.patch("/{ticket_id}/escalate", response={200: TicketOut, **DECISION_ERRORS})
def escalate(request, ticket_id: str, payload: NoteIn):
    """The current reviewer passes the decision up to the next superior who may take it."""
    return decided(services.escalate(actor=request.auth, ticket_id=ticket_id, note=payload.note))


@router.patch("/{ticket_id}/send-back", response={200: TicketOut, **DECISION_ERRORS})
def send_back(request, ticket_id: str, payload: SendBackIn):
    """The current reviewer returns the work for rework, saying why: awaiting_review -> in_progress."""
    return decided(services.send_back(actor=request.auth, ticket_id=ticket_id, comment=payload.comment))


@router.patch("/{ticket_id}/close", response={200: TicketOut, **DECISION_ERRORS})
def close(request, ticket_id: str, payload: NoteIn):
    """Close without reward: for assignees who earn none (Nyx, the Directorate)."""
    return decided(services.close_without_reward(actor=request.auth, ticket_id=ticket_id, note=payload.note))


@router.patch("/{ticket_id}/promote", response={200: PersonOut, **DECISION_ERRORS})
def promote(request, ticket_id: str, payload: NoteIn):
    """Approve a Personnel / Promotion Request (the subject rises one rank) or Demotion Request (one rank down).
    Answers the subject as now shown."""
    return person_out(services.approve_promotion(actor=request.auth, ticket_id=ticket_id, note=payload.note))


@router.patch("/{ticket_id}/deny", response={200: TicketOut, **DECISION_ERRORS})
def deny(request, ticket_id: str, payload: DenyIn):
    """Deny a Personnel / Promotion or Demotion Request, saying why (`reason`, required): the ticket closes and
    no rank changes. Approving either kind is `promote`."""
    return decided(services.deny_rank_change(actor=request.auth, ticket_id=ticket_id, reason=payload.reason))


@router.post("/{ticket_id}/comment", response={201: CommentOut, **DECISION_ERRORS})
def comment(request, ticket_id: str, payload: CommentIn):
    """Add to the ticket's thread. Closed tickets are read-only (409)."""
    added = services.add_comment(actor=request.auth, ticket_id=ticket_id, body_md=payload.body_md)
    return Status(201, comment_out(added))


@router.post("/{ticket_id}/watchers", response={201: PersonOut, **DECISION_ERRORS})
def add_watcher(request, ticket_id: str, payload: WatcherIn):
    """Watch a ticket, or (as its author, assignee or reviewer) add someone you can see as a watcher."""
    person = services.add_watcher(actor=request.auth, ticket_id=ticket_id, user_id=payload.user_id or request.auth.id)
    return Status(201, person_out(person))


@router.delete("/{ticket_id}/watchers/{user_id}", response={204: None, **DECISION_ERRORS})
def remove_watcher(request, ticket_id: str, user_id: str):
    """Stop watching, or (as its author or assignee) remove a watcher."""
    services.remove_watcher(actor=request.auth, ticket_id=ticket_id, user_id=user_id)
    return Status(204, None)

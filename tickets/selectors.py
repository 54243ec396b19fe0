"""Reads of tickets that depend on who is asking.

Visibility (docs/architecture.md, docs/rules.md): you see tickets you authored, are assigned,
review or watch; per the matrix, the tickets of your subordinates; `private`
tickets only as author, assignee or current reviewer. Anything else is "not found".
"""

from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.policy import Action, may_at_all, may_see_ticket, sees_everyone
from accounts.selectors import PERSON_COLUMNS, in_subtree, with_people
from directorate import keyset
from directorate.db import first_of
from directorate.errors import Invalid, NotFound
from tickets import search
from tickets.models import ApprovalStep, Comment, Ticket, TicketWatcher

PAGE_SIZE = 25
SUBTREE_BY_ID_MAX = 200  # members; a larger subtree is matched by chain (see _in_subtree_of)
# The columns of a ticket list row (list_page); a list never loads ticket bodies.
LIST_ROW_FIELDS = (
    "id",
    "title",
    "visibility",
    "category",
    "sub_category",
    "status",
    "updated_at",
    "assignee__display_name",
    "assignee__rank",
    "assignee__hidden",
)


def visible_tickets(viewer: User, *, narrowed_to_ids: bool = False) -> QuerySet[Ticket]:
    """Every ticket `viewer` may see, as one query.

    `narrowed_to_ids`: the caller keeps only a few tickets named by id (one ticket's page, the tickets of a
    ledger page), so the subtree is matched by chain, one join per ticket kept, rather than by a list of
    its members read first and sent with the query.
    """
    tickets = Ticket.objects.all()
    if sees_everyone(viewer, Action.VIEW_SUBORDINATE_TICKETS):
        return tickets
    involved = Q(author_id=viewer.id) | Q(assignee_id=viewer.id) | Q(reviewer_id=viewer.id)
    watched = list(TicketWatcher.objects.filter(user_id=viewer.id).values_list("ticket_id", flat=True))
    if watched:
        involved |= Q(id__in=watched, visibility=Ticket.Visibility.HIERARCHICAL)
    if may_at_all(viewer, Action.VIEW_SUBORDINATE_TICKETS):
        # Ranks cap the matrix's reach, but every subordinate already ranks below their superiors,
        # so the whole subtree is exactly the reach of each grant (tests/test_policy.py checks it).
        subtree = _in_subtree_of(viewer, "assignee", "author", by_chain=narrowed_to_ids)
        involved |= Q(subtree, visibility=Ticket.Visibility.HIERARCHICAL)
    return tickets.filter(involved)


def _in_subtree_of(viewer: User, *people: str, by_chain: bool = False) -> Q:
    """Tickets whose `people` (e.g. "assignee", "author") include someone in `viewer`'s subtree, in the form
    the database reads fastest.

    A page is the 25 newest visible tickets. A small subtree has few tickets: they are found by their
    people's ids through the assignee and author indexes, then sorted. A large subtree sees many, and
    usually a large share of all: reading every ticket newest first (`ticket_recent`) and keeping the
    subtree's fills a page after a few rows, where collecting and sorting them all would not. The measured
    reason is in benchmarks/README.md.
    """
    if not by_chain:
        members = list(
            User.objects.filter(in_subtree(viewer.chain)).values_list("id", flat=True)[: SUBTREE_BY_ID_MAX + 1]
        )
        by_chain = len(members) > SUBTREE_BY_ID_MAX
    condition = Q()
    for person in people:
        if by_chain:
            condition |= in_subtree(viewer.chain, field=f"{person}__chain")
        else:
            condition |= Q(**{f"{person}_id__in": members})
    return condition


def ticket_for(viewer: User, ticket_id: object, *, known: Ticket | None = None, to_show: bool = False) -> Ticket:
    """One ticket `viewer` may see, or NotFound (the same for tickets that exist out of sight).

    One ticket is read with its people and judged by the policy's predicate (`may_see_ticket`, the row form of
    `visible_tickets`); whether the viewer watches it is read only when nothing else lets them see it.
    `known`: that ticket as just read and changed by a service in this request, judged again without a read.
    `to_show`: read for a page that shows it, its people with `PERSON_COLUMNS` only (and the subject of a rank
    change, which only such a ticket names, by a read of its own); services, which may change them, read them
    whole.
    """
    people = ("author", "assignee", "reviewer")
    rows = Ticket.objects.filter(id=str(ticket_id))
    ticket = known or first_of(with_people(rows, *people) if to_show else rows.select_related(*people))
    if ticket is None or not (
        may_see_ticket(viewer, ticket)
        or (
            ticket.visibility == Ticket.Visibility.HIERARCHICAL
            and TicketWatcher.objects.filter(ticket_id=ticket.id, user_id=viewer.id).exists()
        )
    ):
        raise NotFound("No such ticket.")
    if to_show and known is None and ticket.subject_id:
        ticket.subject = first_of(User.objects.filter(id=ticket.subject_id).only(*PERSON_COLUMNS))
    return ticket


def assigned_to(user: User) -> QuerySet[Ticket]:
    """Tickets assigned to `user` that are not closed, most recently changed first."""
    return (
        Ticket.objects.filter(assignee_id=user.id).exclude(status=Ticket.Status.CLOSED).order_by("-updated_at", "-id")
    )


def written_by(user: User) -> QuerySet[Ticket]:
    """Open tickets `user` wrote for someone else (requests upward, directives), most recently changed first."""
    return (
        Ticket.objects.filter(author_id=user.id)
        .exclude(assignee_id=user.id)
        .exclude(status=Ticket.Status.CLOSED)
        .order_by("-updated_at", "-id")
    )


def review_queue(user: User) -> QuerySet[Ticket]:
    """Tickets waiting for `user`'s decision, oldest first: first come, first reviewed."""
    return Ticket.objects.filter(reviewer_id=user.id, status=Ticket.Status.AWAITING_REVIEW).order_by("updated_at", "id")


# The comments, decisions and watchers of one ticket are few and read whole, so they are sorted here: with its
# people joined, compiling an ORDER BY cost a third of such a read (benchmarks/README.md).


def watchers_of(ticket: Ticket) -> list[User]:
    """The members watching `ticket` (never Niki), by name."""
    watchers = User.objects.filter(watched_links__ticket_id=ticket.id, hidden=False).only(*PERSON_COLUMNS)
    return sorted(watchers, key=attrgetter("display_name", "id"))


def approval_log_of(ticket: Ticket) -> list[ApprovalStep]:
    """The decisions on `ticket`, oldest first, each with its approver."""
    return sorted(with_people(ticket.approval_log.all(), "approver"), key=attrgetter("ts", "id"))


def comments_of(ticket: Ticket) -> list[Comment]:
    """The comments on `ticket`, oldest first, each with its author."""
    return sorted(with_people(ticket.comments.all(), "author"), key=attrgetter("created_at", "id"))


@dataclass(frozen=True)
class TicketFilters:
    scope: str = "all"  # all | mine | queue | subordinates
    status: str = ""
    category: str = ""
    assignee_id: str = ""
    assignee_name: str = ""
    text: str = ""
    order: str = "recent"  # recent | oldest


ORDERS = {"recent": "Most recently changed first", "oldest": "Oldest first"}

SCOPES = {
    "all": "Everything I can see",
    "mine": "Assigned to me",
    "authored": "Written by me",
    "queue": "My review queue",
    "subordinates": "My subordinates' work",
}


def filtered_tickets(viewer: User, filters: TicketFilters) -> QuerySet[Ticket]:
    # Tickets you are assigned, wrote or review are always yours to see: those scopes need no visibility test,
    # which keeps each of them on its own index.
    if filters.scope == "mine":
        tickets = Ticket.objects.filter(assignee_id=viewer.id)
    elif filters.scope == "authored":
        tickets = Ticket.objects.filter(author_id=viewer.id)
    elif filters.scope == "queue":
        tickets = Ticket.objects.filter(reviewer_id=viewer.id, status=Ticket.Status.AWAITING_REVIEW)
    elif filters.scope == "subordinates":
        tickets = visible_tickets(viewer).filter(_in_subtree_of(viewer, "assignee")).exclude(assignee_id=viewer.id)
    else:
        tickets = visible_tickets(viewer)
    if filters.status:
        tickets = tickets.filter(status=filters.status)
    if filters.category:
        tickets = tickets.filter(category=filters.category)
    if filters.assignee_id:
        tickets = tickets.filter(assignee_id=filters.assignee_id)
    if filters.assignee_name:
        tickets = tickets.filter(assignee__display_name__icontains=filters.assignee_name, assignee__hidden=False)
    if filters.text:
        tickets = search.matching(tickets, filters.text)
    return tickets


Page = keyset.Page


def keyset_page(
    tickets: QuerySet[Any, Any], cursor: str | None = None, size: int = PAGE_SIZE, *, oldest_first: bool = False
) -> Page:
    """A page of tickets, most recently changed first (or least recently, `oldest_first`), continuing after
    `cursor` (directorate/keyset.py).

    The caller chooses the related rows and columns it shows (select_related, only, values).
    """
    return keyset.page(tickets, field="updated_at", cursor=cursor, size=size, oldest_first=oldest_first)


def list_page(viewer: User, filters: TicketFilters, cursor: str | None = None) -> Page:
    """A page of the ticket list: one dict per ticket with the columns the list shows (LIST_ROW_FIELDS).

    Rows rather than models: building 25 tickets and their assignees as model instances cost more than
    the query itself (benchmarks/README.md).
    """
    if filters.text:
        return search_page(viewer, filters, cursor)
    rows = filtered_tickets(viewer, filters).values(*LIST_ROW_FIELDS)
    return keyset_page(rows, cursor, oldest_first=filters.order == "oldest")


def queue_details(ticket_ids: Any) -> dict[str, dict[str, Any]]:
    """For tickets in a review queue: the proposal, when it was submitted, and the latest recommendation or
    escalation that brought it up (who, what and when), by ticket id. Two queries for a page."""
    details = {
        row["id"]: {**row, "recommended": None}
        for row in Ticket.objects.filter(id__in=list(ticket_ids)).values(
            "id", "reward_credits", "reward_pay", "submitted_at"
        )
    }
    steps = (
        ApprovalStep.objects.filter(
            ticket_id__in=list(details),
            decision__in=[ApprovalStep.Decision.RECOMMENDED, ApprovalStep.Decision.ESCALATED],
        )
        .select_related("approver")
        .order_by("ts", "id")
    )
    for step in steps:
        details[step.ticket_id]["recommended"] = step  # the latest wins
    return details


def search_page(viewer: User, filters: Any, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    """A page of a search (`filters.text` over titles, bodies and comments), best match first, within the
    tickets `filters` keeps of those `viewer` may see (tickets/search.py). Pages are counted by position:
    the cursor is how many results came before."""
    if cursor and not (cursor.isdigit() and len(cursor) <= 6):
        raise Invalid(keyset.BROKEN, field_errors={"after": [keyset.BROKEN]})
    start = int(cursor or 0)
    tickets = filtered_tickets(viewer, replace(filters, text=""))
    items = search.ranked_rows(
        tickets, filters.text, viewer=viewer, start=start, count=size + 1, fields=LIST_ROW_FIELDS
    )
    return Page(items=items[:size], next_cursor=str(start + size) if len(items) > size else None)

"""Writes to tickets. Every write checks the policy and runs in one atomic unit."""

from accounts.policy import Action, can
from accounts.selectors import person_for
from directorate.db import atomic
from directorate.errors import Forbidden, Invalid
from tickets.categories import CATEGORIES, is_valid_pair
from tickets.models import Ticket, TicketWatcher

TITLE_MAX = 200
BODY_MAX = 20_000


def create_ticket(
    *, actor, title, category, sub_category, assignee_id, body_md="", visibility=Ticket.Visibility.HIERARCHICAL,
    watcher_ids=(),
):
    """Open a ticket addressed upward to the actor's superior, or as a directive to self or a subordinate."""
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = ["A title is required."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"A title has at most {TITLE_MAX} characters."]
    if len(body_md or "") > BODY_MAX:
        errors["body_md"] = [f"The body has at most {BODY_MAX} characters."]
    if category not in CATEGORIES:
        errors["category"] = ["Unknown category."]
    elif not is_valid_pair(category, sub_category):
        errors["sub_category"] = [f"Not a sub-category of {category}."]
    if visibility not in Ticket.Visibility.values:
        errors["visibility"] = ["Visibility is private or hierarchical."]
    if errors:
        raise Invalid("The ticket was not created: correct the marked fields.", field_errors=errors)

    assignee = person_for(actor, assignee_id)
    upward = assignee.id == actor.reports_to_id
    if not can(actor, Action.CREATE_TICKET_UPWARD if upward else Action.CREATE_DIRECTIVE, assignee):
        raise Forbidden("You may address tickets only to your superior, yourself or your subordinates.")
    watchers = [person_for(actor, watcher_id) for watcher_id in dict.fromkeys(watcher_ids)]

    ticket = Ticket(
        title=title,
        body_md=body_md or "",
        category=category,
        sub_category=sub_category,
        visibility=visibility,
        author=actor,
        assignee=assignee,
        target_rank=assignee.rank,
    )
    with atomic():
        ticket.save(force_insert=True)
        TicketWatcher.objects.bulk_create([TicketWatcher(ticket=ticket, user=watcher) for watcher in watchers])
    return ticket


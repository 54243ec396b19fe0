"""Reads for Nyx's console and Niki's hidden view, depending on who asks."""

import re

from accounts.models import User
from accounts.policy import Action, is_niki, sees_everyone
from accounts.presentation import DIRECTORATE
from accounts.ranks import Rank
from directorate.errors import NotFound
from nyx.models import AuditEntry, NyxAction
from tickets.selectors import visible_tickets

RECENT = 50


def recent_nyx_actions(viewer, limit=RECENT):
    """Nyx's latest actions that `viewer` may see: on tickets they see, or ones they asked for."""
    actions = list(NyxAction.objects.select_related("ticket", "requested_by").order_by("-ts", "-id")[: limit * 4])
    if not sees_everyone(viewer, Action.VIEW_SUBORDINATE_TICKETS) and viewer.rank != Rank.NYX:
        ticket_ids = {action.ticket_id for action in actions if action.ticket_id}
        visible = visible_tickets(viewer, narrowed_to_ids=True)
        seen = set(visible.filter(id__in=list(ticket_ids)).values_list("id", flat=True))
        actions = [
            action
            for action in actions
            if (action.ticket_id in seen) or (action.ticket_id is None and action.requested_by_id == viewer.id)
        ]
    actions = actions[:limit]
    if not is_niki(viewer):
        scrub = hidden_traces()
        for action in actions:  # in memory only: what the model wrote is kept as it was
            action.reasoning = scrub(action.reasoning)
            action.reason = scrub(action.reason)
            action.raw_output = scrub(action.raw_output)
    return actions


def hidden_traces():
    """A function replacing every mention of a hidden member (name, service name and number, id) in a text.

    The model never hears of Niki, but what it writes is free text: nothing it writes may show Niki to others.
    """
    terms = []
    for person in User.objects.filter(hidden=True):
        terms += [person.id, str(person.service_number), person.username, person.display_name]
    terms = sorted({term for term in terms if term}, key=len, reverse=True)
    if not terms:
        return lambda text: text
    pattern = re.compile(r"(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, terms)) + r")(?![0-9A-Za-z])", re.I)
    return lambda text: pattern.sub(DIRECTORATE, text or "")


def audit_log(viewer, limit=200):
    """Niki's audit log, newest first. Anyone else: not found."""
    if not is_niki(viewer):
        raise NotFound()
    return list(AuditEntry.objects.select_related("actor").order_by("-ts", "-id")[:limit])

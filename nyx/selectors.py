"""Reads for Nyx's console and Niki's hidden view, depending on who asks."""

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.policy import Action, is_niki, sees_everyone
from accounts.presentation import DIRECTORATE
from accounts.ranks import Rank
from directorate.errors import NotFound
from nyx.models import AuditEntry, NyxAction
from tickets.models import Ticket
from tickets.selectors import visible_tickets

RECENT = 50


def recent_nyx_actions(viewer: User, limit: int = RECENT) -> list[NyxAction]:
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


def hidden_traces() -> Callable[[str], str]:
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


# Niki's console: pickers and the audit log ------------------------------------------------------------------

PICK_LIMIT = 8
SEARCH_MAX = 80


def _require_niki(viewer: User | AnonymousUser | None) -> None:
    if not is_niki(viewer):
        raise NotFound()


def niki_people(viewer: User, query: str | None, *, limit: int = PICK_LIMIT) -> list[User]:
    """Members matching `query` by name, service name or service number, for Niki's pickers. Niki is not among
    them (nothing on the console acts on the Controller). Anyone else: not found."""
    _require_niki(viewer)
    query = " ".join((query or "").split())[:SEARCH_MAX]
    people = User.objects.filter(hidden=False, is_active=True)
    if query:
        match = Q(display_name__icontains=query) | Q(username__icontains=query)
        if query.isdigit() and query.isascii():
            match |= Q(service_number=int(query))
        people = people.filter(match)
    return list(people.select_related("reports_to").order_by("display_name", "id")[:limit])


def niki_person(viewer: User, person_id: object) -> User:
    """One member for Niki's console (not Niki), or NotFound."""
    _require_niki(viewer)
    person = User.objects.filter(id=str(person_id or "")[:24], hidden=False).first()
    if person is None:
        raise NotFound("No such member.")
    return person


def niki_tickets(viewer: User, query: str | None, *, limit: int = PICK_LIMIT) -> list[Ticket]:
    """Tickets awaiting review whose title holds `query` (or whose id it is), oldest waiting first."""
    _require_niki(viewer)
    query = " ".join((query or "").split())[:SEARCH_MAX]
    tickets = visible_tickets(viewer).filter(status=Ticket.Status.AWAITING_REVIEW)
    if query:
        match = Q(title__icontains=query)
        if re.fullmatch(r"[0-9a-f]{24}", query):
            match |= Q(id=query)
        tickets = tickets.filter(match)
    return list(tickets.select_related("assignee", "reviewer").order_by("updated_at", "id")[:limit])


AUDIT_ACTIONS = {
    "override_approve": "Override approval",
    "adjust": "Adjustment",
    "move_member": "Rank or superior",
    "broadcast": "Broadcast",
    "request_directives": "Directives asked of Nyx",
    "create_ticket": "Directive",
    "approve_rewards": "Approval",
    "comment": "Comment",
    "escalate": "Escalation",
    "send_back": "Sent back",
    "invalid_command": "Invalid command",
}


def audit_entries(
    viewer: User | AnonymousUser | None, *, action: str = "", outcome: str = "", subject_id: str = ""
) -> QuerySet[AuditEntry]:
    """Niki's audit log, newest first, filtered. Anyone else: not found."""
    _require_niki(viewer)
    entries = AuditEntry.objects.all()
    if action:
        entries = entries.filter(action=action)
    if outcome:
        entries = entries.filter(outcome=outcome)
    if subject_id:
        entries = entries.filter(subject_id=subject_id)
    return entries.select_related("actor", "subject").order_by("-ts", "-id")


def audit_log(viewer: User | AnonymousUser | None, limit: int = 200) -> list[AuditEntry]:
    """Niki's audit log, newest first. Anyone else: not found."""
    return list(audit_entries(viewer)[:limit])


def audit_rows(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    """Each entry as the log shows it: names and links instead of ids, amounts, reason and outcome."""
    entries = list(entries)
    ticket_ids = {entry.target_id for entry in entries if entry.target_type == "ticket" and entry.target_id}
    titles = dict(Ticket.objects.filter(id__in=list(ticket_ids)).values_list("id", "title")) if ticket_ids else {}
    rows = []
    for entry in entries:
        detail = entry.detail or {}
        command = detail.get("command") or {}
        credits = detail.get("credits", command.get("credits"))
        pay = detail.get("pay", command.get("pay"))
        rows.append(
            {
                "entry": entry,
                "action": AUDIT_ACTIONS.get(entry.action, entry.action.replace("_", " ")),
                "subject": entry.subject,
                "ticket_id": entry.target_id if entry.target_id in titles else "",
                "ticket_title": titles.get(entry.target_id, ""),
                "credits": "" if credits is None else credits,
                "pay": "" if pay is None else pay,
                "reason": (
                    command.get("reason")
                    or command.get("reasoning")
                    or command.get("message")
                    or command.get("topic")
                    or command.get("note")
                    or ""
                ),
                "result": detail.get("reason", ""),
                "refused": entry.outcome == AuditEntry.Result.REFUSED,
            }
        )
    return rows

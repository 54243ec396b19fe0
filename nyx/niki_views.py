"""Niki's hidden view and command route. Reachable only through `nyx.niki_urls`, which only Niki resolves
against (`nyx.middleware`); each view checks again and answers as a missing page otherwise."""

import json

from django.http import Http404, JsonResponse
from django.shortcuts import render

from accounts.policy import is_niki
from nyx import services
from nyx.selectors import audit_log
from tickets.models import Ticket
from tickets.selectors import visible_tickets

COMMAND_MAX_BYTES = 32_000


def _require_niki(request):
    if not is_niki(request.user):
        raise Http404("No such page.")


def niki_home(request):
    _require_niki(request)
    outcome, command_text, status = None, "", 200
    if request.method == "POST":
        command_text = request.POST.get("command", "")[:COMMAND_MAX_BYTES]
        try:
            payload = json.loads(command_text)
        except ValueError:
            outcome = services.Outcome(False, "The command is not valid JSON.", status=400)
        else:
            outcome = services.niki_command(actor=request.user, payload=payload)
        status = 200 if outcome.done else outcome.status
    awaiting = (
        visible_tickets(request.user)
        .filter(status=Ticket.Status.AWAITING_REVIEW)
        .select_related("assignee", "reviewer")
        .order_by("updated_at", "id")[:100]
    )
    context = {
        "outcome": outcome,
        "command_text": command_text,
        "entries": audit_log(request.user),
        "awaiting": awaiting,
    }
    return render(request, "nyx/niki.html", context, status=status)


def niki_command(request):
    """POST a JSON action (Nyx's schema or an override) with the session and the CSRF token header."""
    _require_niki(request)
    if request.method != "POST":
        raise Http404("No such page.")
    if len(request.body) > COMMAND_MAX_BYTES:
        return JsonResponse({"outcome": "refused", "reason": "The command is too large."}, status=413)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"outcome": "refused", "reason": "The command is not valid JSON."}, status=400)
    outcome = services.niki_command(actor=request.user, payload=payload)
    body = {"outcome": outcome.label, "reason": outcome.reason, "ticket_id": outcome.ticket_id}
    return JsonResponse(body, status=200 if outcome.done else outcome.status)

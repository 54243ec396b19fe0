"""Niki's hidden console, command route and audit log. Reachable only through `nyx.niki_urls`, which only Niki
resolves against (`nyx.middleware`); each view checks again and answers as a missing page otherwise.

Every console form becomes one command of Niki's schema and goes through `nyx.services.niki_command`, the same
service (checks, atomic unit, audit entry) as the JSON route `/niki/command`.
"""

import itertools
import json

from django import forms
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from accounts.policy import is_niki
from accounts.presentation import shown_name
from directorate import keyset, spreadsheet
from directorate.errors import NotFound
from directorate.spreadsheet import csv_download, safe_text, utc_time
from nyx import services
from nyx.models import AuditEntry
from nyx.niki_forms import CONSOLE_FORMS, console_forms
from nyx.selectors import (
    AUDIT_ACTIONS,
    SEARCH_MAX,
    audit_entries,
    audit_rows,
    niki_people,
    niki_person,
    niki_tickets,
)
from tickets.models import Ticket
from tickets.selectors import ticket_for, visible_tickets

COMMAND_MAX_BYTES = 32_000
AUDIT_PAGE_SIZE = 50
RECENT_AUDIT = 10


def _require_niki(request):
    if not is_niki(request.user):
        raise Http404("No such page.")


def _console(request, *, forms_by_name=None, outcome=None, command_text="", status=200):
    awaiting = (
        visible_tickets(request.user)
        .filter(status=Ticket.Status.AWAITING_REVIEW)
        .select_related("assignee", "reviewer")
        .order_by("updated_at", "id")[:100]
    )
    forms_by_name = forms_by_name or console_forms()
    context = {
        "outcome": outcome,
        "command_text": command_text,
        "f": forms_by_name,
        "titles": {name: title for name, (_form, title) in CONSOLE_FORMS.items()},
        "rows": audit_rows(audit_entries(request.user)[:RECENT_AUDIT]),
        "awaiting": awaiting,
    }
    return render(request, "nyx/niki.html", context, status=status)


def niki_home(request):
    """The console. A POST here is one JSON command typed in the page's command field."""
    _require_niki(request)
    if request.method != "POST":
        return _console(request)
    command_text = request.POST.get("command", "")[:COMMAND_MAX_BYTES]
    try:
        payload = json.loads(command_text)
    except ValueError:
        outcome = services.Outcome(False, "The command is not valid JSON.", status=400)
    else:
        outcome = services.niki_command(actor=request.user, payload=payload)
    return _console(request, outcome=outcome, command_text=command_text, status=200 if outcome.done else outcome.status)


def niki_act(request, name):
    """One console form (`CONSOLE_FORMS`): its command through the same service as `/niki/command`."""
    _require_niki(request)
    if request.method != "POST" or name not in CONSOLE_FORMS:
        raise Http404("No such page.")
    forms_by_name = console_forms(name, request.POST)
    form = forms_by_name[name]
    back_to_ticket = name == "override" and request.POST.get("back") == "ticket"
    if form.is_valid():
        outcome = services.niki_command(actor=request.user, payload=form.payload())
        if outcome.done:
            messages.success(request, outcome.reason)
            if back_to_ticket:
                ticket_url = reverse("ticket", kwargs={"ticket_id": form.cleaned_data["ticket"]})
                return HttpResponseClientRedirect(ticket_url) if request.htmx else redirect(ticket_url)
            return redirect(f"{reverse('niki')}#{name}")
        form.attach(outcome)
        status = outcome.status
    else:
        status = 400
    if back_to_ticket:
        return _ticket_page(request, form, status)
    return _console(request, forms_by_name=forms_by_name, status=status)


def _ticket_page(request, form, status):
    """The ticket's override panel again, showing why the override was refused: swapped into the ticket page by
    htmx, or, without it, on a page of its own that links back to the ticket. (The ticket page itself is composed
    above this app; the panel is this app's own part of it.)"""
    try:
        ticket = ticket_for(request.user, request.POST.get("override-ticket", ""))
    except NotFound:
        raise Http404("No such ticket.") from None
    context = {"ticket": ticket, "niki_override_form": form}
    template = "nyx/ticket_override.html" if request.htmx else "nyx/niki_override_refused.html"
    return render(request, template, context, status=status)


def niki_pick(request, kind):
    """The results of a console picker's search: radio buttons named like the form field."""
    _require_niki(request)
    if kind not in ("people", "tickets"):
        raise Http404("No such page.")
    field_name = request.GET.get("field", "")
    if field_name not in _picker_fields():
        raise Http404("No such page.")
    query = request.GET.get("q", "")[:SEARCH_MAX]
    chosen_id = request.GET.get(field_name, "")[:24]
    if kind == "tickets":
        options = niki_tickets(request.user, query)
        chosen = niki_tickets(request.user, chosen_id, limit=1) if chosen_id else []
    else:
        options = niki_people(request.user, query) if query.strip() else []
        try:
            chosen = [niki_person(request.user, chosen_id)] if chosen_id else []
        except NotFound:
            chosen = []
    options = chosen + [option for option in options if option.id not in {c.id for c in chosen}]
    context = {
        "field_name": field_name,
        "kind": kind,
        "options": options,
        "chosen_id": chosen[0].id if chosen else "",
        "required": request.GET.get("optional") != "1",
        "query": query.strip(),
    }
    return render(request, "nyx/niki_picker.html#options", context)


def _picker_fields():
    names = {"member"}  # the audit log's filter
    for form in console_forms().values():
        pickers = [name for name, field in form.fields.items() if isinstance(field.widget, forms.HiddenInput)]
        names |= {form[name].html_name for name in pickers}
    return names


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="What", required=False, choices=[("", "Every command"), *AUDIT_ACTIONS.items()])
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Done or refused"), *AuditEntry.Result.choices]
    )
    member = forms.CharField(label="Member", required=False, max_length=24, widget=forms.HiddenInput)


def _audit_filters(request):
    form = AuditFilterForm(request.GET or None, auto_id="audit-%s")
    if request.GET and not form.is_valid():
        return form, None, None
    data = form.cleaned_data if request.GET else {"action": "", "outcome": "", "member": ""}
    member = None
    if data["member"]:
        try:
            member = niki_person(request.user, data["member"])
        except NotFound:
            form.add_error("member", "No such member.")
            return form, None, None
    entries = audit_entries(request.user, action=data["action"], outcome=data["outcome"], subject_id=data["member"])
    return form, entries, member


def niki_audit(request):
    """The audit log: who did what to whom, amounts, reason and outcome; filtered and paginated."""
    _require_niki(request)
    form, entries, member = _audit_filters(request)
    if entries is None:
        return render(request, "nyx/niki_audit.html", {"filters": form, "page": None}, status=400)
    page = keyset.page(entries, field="ts", cursor=request.GET.get("after"), size=AUDIT_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "filters": form,
        "member": member,
        "count": entries.count(),
        "page": page,
        "rows": audit_rows(page.items),
        "query": query.urlencode(),
    }
    return render(request, "nyx/niki_audit.html", context)


AUDIT_CSV_HEADER = [
    "time (UTC)",
    "who",
    "what",
    "outcome",
    "member",
    "ticket id",
    "ticket title",
    "credits",
    "pay",
    "reason",
    "result",
]


def niki_audit_csv(request):
    """The audit log as the page filters it, every entry (not only one page), newest first."""
    _require_niki(request)
    form, entries, _member = _audit_filters(request)
    if entries is None:
        return render(request, "nyx/niki_audit.html", {"filters": form, "page": None}, status=400)

    def rows():
        for chunk in itertools.batched(entries.iterator(chunk_size=spreadsheet.BATCH), spreadsheet.BATCH):
            for row in audit_rows(chunk):
                entry = row["entry"]
                yield [
                    utc_time(entry.ts),
                    "Niki" if entry.actor.hidden else safe_text(shown_name(entry.actor)),
                    row["action"],
                    entry.outcome,
                    safe_text(shown_name(row["subject"])) if row["subject"] else "",
                    row["ticket_id"],
                    safe_text(row["ticket_title"]),
                    row["credits"],
                    row["pay"],
                    safe_text(row["reason"]),
                    safe_text(row["result"]),
                ]

    return csv_download(itertools.chain([AUDIT_CSV_HEADER], rows()), filename="audit-log.csv")


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

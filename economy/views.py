import itertools
from datetime import UTC

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.presentation import shown_name
from directorate.spreadsheet import csv_download, safe_text
from economy import selectors, services

LEDGER_PAGE_SIZE = 25


def ledger(request):
    owner = selectors.ledger_owner_for(request.user, request.GET.get("user"))
    page = Paginator(selectors.ledger_of(owner), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "owner": owner,
        "page": page,
        "is_own": owner.id == request.user.id,
        # A subordinate's entry may be for a ticket the reader may not see: it is not named then.
        "visible_tickets": selectors.visible_ticket_ids(request.user, page.object_list),
    }
    return render(request, "economy/ledger.html#entries" if request.htmx else "economy/ledger.html", context)


LEDGER_CSV_HEADER = ["time (UTC)", "type", "credits", "pay", "ticket id", "ticket title", "approved by", "reason"]


def ledger_csv(request):
    """The ledger the page shows (same owner, same refusals), as a CSV download of every entry."""
    owner = selectors.ledger_owner_for(request.user, request.GET.get("user"))
    rows = (ledger_csv_row(entry, ticket_visible) for entry, ticket_visible in selectors.ledger_for_export(
        request.user, owner
    ))
    return csv_download(itertools.chain([LEDGER_CSV_HEADER], rows), filename=f"ledger-{owner.username}.csv")


def ledger_csv_row(entry, ticket_visible):
    ticket = entry.related_ticket if ticket_visible else None
    return [
        entry.ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        safe_text(entry.type),
        entry.amount_cr,
        entry.amount_pay,
        safe_text(ticket.id if ticket else ""),
        safe_text(ticket.title if ticket else ""),
        safe_text(shown_name(entry.approved_by)),
        safe_text(entry.reason),
    ]


@require_POST
def adjust(request, person_id):
    services.adjust(
        actor=request.user,
        user_id=person_id,
        credits=request.POST.get("credits") or 0,
        pay=request.POST.get("pay") or 0,
        reason=request.POST.get("reason", ""),
    )
    messages.success(request, "Adjustment recorded in the ledger.")
    return redirect("person", person_id=person_id)

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from economy import selectors, services

LEDGER_PAGE_SIZE = 25


def ledger(request):
    owner = selectors.ledger_owner_for(request.user, request.GET.get("user"))
    page = Paginator(selectors.ledger_of(owner), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "economy/ledger.html#entries" if request.htmx else "economy/ledger.html"
    return render(request, template, {"owner": owner, "page": page, "is_own": owner.id == request.user.id})


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

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from economy import services


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

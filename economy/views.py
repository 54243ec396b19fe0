from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import AdjustForm
from accounts.selectors import person_for
from accounts.views import profile_context
from directorate.errors import Invalid
from economy import services
from economy.rates import needs_confirmation
from economy.validation import parse_credits, parse_money


@require_POST
def adjust(request, person_id):
    """A manual adjustment from a person's page. Refusals come back at their fields; a large one asks to
    confirm first (docs/rules.md section 18)."""
    person = person_for(request.user, person_id)
    form = AdjustForm(request.POST)
    data = request.POST
    if data.get("confirmed") != "yes":
        confirm = _large_adjustment(person, data)
        if confirm is not None:
            return _profile(request, person, form, confirm=confirm, status=200)
    try:
        services.adjust(
            actor=request.user,
            user_id=person.id,
            credits=data.get("credits") or 0,
            pay=data.get("pay") or 0,
            reason=data.get("reason", ""),
        )
    except Invalid as error:
        form.is_valid()
        for field, field_messages in error.field_errors.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
        if not error.field_errors:
            form.add_error(None, error.message)
        return _profile(request, person, form, status=400)
    messages.success(request, "Adjustment recorded in the ledger.")
    return redirect("person", person_id=person.id)


def _large_adjustment(person, data):
    try:
        credits = parse_credits(data.get("credits") or 0, allow_negative=True)
        pay = parse_money(data.get("pay") or 0, allow_negative=True)
    except Invalid:
        return None  # the service explains it
    if not needs_confirmation(person.rank, credits=credits, pay=pay):
        return None
    return {"credits": credits, "pay": pay, "reason": data.get("reason", "")}


def _profile(request, person, form, *, confirm=None, status):
    context = profile_context(request.user, person)
    context.update(adjust_form=form, adjust_confirm=confirm)
    return render(request, "accounts/profile.html", context, status=status)

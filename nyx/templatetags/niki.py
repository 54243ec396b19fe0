"""Niki's parts of shared pages: the search pickers of the console and the override panel of a ticket page.

Each renders nothing at all for anyone but Niki.
"""

from django import template

from accounts.policy import is_niki
from directorate.errors import NotFound
from nyx.niki_forms import OverrideForm
from nyx.selectors import niki_person, niki_tickets
from tickets.models import Ticket

register = template.Library()


def _viewer(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    return user if is_niki(user) else None


@register.inclusion_tag("nyx/niki_picker.html", takes_context=True)
def niki_picker(context, field, kind):
    """A search field and its results as radio buttons named like `field`; the chosen one stays listed."""
    viewer = _viewer(context)
    if viewer is None:
        return {"hidden": True}
    value = field.value() or ""
    chosen = None
    if value:
        if kind == "tickets":
            chosen = next((ticket for ticket in niki_tickets(viewer, value, limit=1)), None)
        else:
            try:
                chosen = niki_person(viewer, value)
            except NotFound:  # a stale or forged id: nothing is chosen
                chosen = None
    options = niki_tickets(viewer, "") if kind == "tickets" else []
    if chosen is not None:
        options = [chosen, *[option for option in options if option.id != chosen.id]]
    return {
        "field_name": field.html_name,
        "label": field.label,
        "required": field.field.required,
        "errors": field.errors,
        "kind": kind,
        "options": options,
        "chosen_id": chosen.id if chosen is not None else "",
        "viewer": viewer,
    }


@register.inclusion_tag("nyx/niki_override_panel.html", takes_context=True)
def niki_override_panel(context):
    """Beside a ticket's review panel, for Niki: close and pay it past any review, with a reason."""
    viewer = _viewer(context)
    ticket = context.get("ticket")
    if viewer is None or ticket is None:
        return {"hidden": True}
    form = context.get("niki_override_form") or OverrideForm(
        initial={"ticket": ticket.id}, prefix="override", auto_id="%s"
    )
    return {
        "ticket": ticket,
        "form": form,
        "awaiting": ticket.status == Ticket.Status.AWAITING_REVIEW,
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }

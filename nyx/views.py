"""Nyx's console: executors and up ask Nyx for directives or a review of its queue."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.policy import may_use_console
from nyx import engine
from nyx.conf import mode
from nyx.models import NyxAction
from nyx.selectors import recent_nyx_actions


def _require_console(request):
    if not may_use_console(request.user):
        raise Http404("No such page.")


def _context(request, records=None):
    return {
        "mode": mode(),
        "mode_label": NyxAction.Mode(mode()).label,
        "actions": recent_nyx_actions(request.user),
        "new_ids": {record.id for record in records or ()},
    }


def console(request):
    _require_console(request)
    return render(request, "nyx/console.html", _context(request))


def _answer(request, records):
    done = sum(record.outcome == NyxAction.Result.DONE for record in records)
    refused = len(records) - done
    summary = f"Nyx: {done} done, {refused} refused." if records else "Nyx found nothing to do."
    if request.htmx:
        context = _context(request, records) | {"summary": summary}
        return render(request, "nyx/console.html#actions", context)
    messages.info(request, summary)
    return redirect("nyx_console")


@require_POST
def console_directives(request):
    _require_console(request)
    records = engine.issue_directives(
        request.POST.get("topic", ""), trigger=NyxAction.Trigger.CONSOLE_DIRECTIVES, requested_by=request.user
    )
    return _answer(request, records)


@require_POST
def console_review(request):
    _require_console(request)
    records = engine.review_queue_now(trigger=NyxAction.Trigger.CONSOLE_REVIEW, requested_by=request.user)
    return _answer(request, records)

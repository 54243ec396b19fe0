from django.shortcuts import render

from accounts.policy import Action, sees_everyone
from analytics import charts
from analytics.forms import AnalyticsFilterForm
from analytics.selectors import economy_figures, members_in_reach
from directorate.errors import Invalid
from directorate.spreadsheet import csv_download, safe_text


def filter_form(request):
    members_in_reach(request.user)  # "not found" for those below marshal, before anything else
    data = request.GET.copy()
    data.setdefault("period", AnalyticsFilterForm.base_fields["period"].initial)
    return AnalyticsFilterForm(data, viewer=request.user)


def dashboard(request):
    form = filter_form(request)
    if not form.is_valid():
        return render(request, "analytics/dashboard.html", {"form": form}, status=400)
    figures = economy_figures(request.user, form.filters())
    rate = figures.reviews.escalation_rate
    context = {
        "form": form,
        "figures": figures,
        "reaches_everyone": sees_everyone(request.user, Action.VIEW_ANALYTICS),
        "escalation_percent": None if rate is None else f"{rate * 100:.1f}",
    }
    return render(request, "analytics/dashboard.html", context | charts.dashboard_charts(figures))


def dashboard_csv(request):
    """The figures the dashboard shows for the same filters, one section after another."""
    form = filter_form(request)
    if not form.is_valid():
        raise Invalid("Check the filters: " + " ".join(error for errors in form.errors.values() for error in errors))
    figures = economy_figures(request.user, form.filters())
    filters = figures.filters
    return csv_download(figures_csv_rows(figures), filename=f"analytics-{filters.start}-{filters.end}.csv")


def figures_csv_rows(figures):
    reviews = figures.reviews
    yield ["section", "key", "type", "credits", "pay", "entries"]
    for bucket in figures.buckets:
        for kind, _ in figures.types:
            credits, pay, entries = bucket.amounts.get(kind, (0, 0, 0))
            yield [f"per {figures.filters.interval}", bucket.start.isoformat(), kind, credits, pay, entries]
    for total in figures.totals:
        yield ["ledger total", "", total.type, total.credits, total.pay, total.entries]
    yield []
    yield ["section", "rank", "members", "credits", "lowest", "median", "highest"]
    for row in figures.distribution:
        yield ["credits by rank", safe_text(row.label), row.members, row.total, row.low, row.median, row.high]
    yield []
    yield ["section", "member", "credits", "pay"]
    for earner in figures.earners:
        yield ["top earner", safe_text(earner.name), earner.credits, earner.pay]
    yield []
    yield [
        "section",
        "closed",
        "escalated",
        "reviewed",
        "median seconds (within 1%)",
        "90th percentile seconds (within 1%)",
    ]
    yield [
        "reviews",
        reviews.closed,
        reviews.escalated,
        reviews.reviewed,
        *(int(value.total_seconds()) if value is not None else "" for value in (reviews.median, reviews.p90)),
    ]

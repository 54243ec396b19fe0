from django.shortcuts import render

from accounts.policy import Action, Reach, grant_for
from analytics import charts
from analytics.forms import AnalyticsFilterForm
from analytics.selectors import WEEK, economy_figures, members_in_reach
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
        "reaches_everyone": grant_for(request.user.rank, Action.VIEW_ANALYTICS).reach == Reach.ANYONE,
        "escalation_percent": None if rate is None else f"{rate * 100:.1f}",
        "legend": [(label, index % charts.SERIES_STYLES) for index, (_, label) in enumerate(figures.types)],
        "series_rows": [
            (
                bucket.start,
                [bucket.credits(kind) for kind, _ in figures.types],
                [bucket.pay(kind) for kind, _ in figures.types],
            )
            for bucket in figures.buckets
        ],
    }
    return render(request, "analytics/dashboard.html", context | chart_context(figures))


def chart_context(figures):
    weekly = figures.filters.interval == WEEK
    labels = [("Week of " if weekly else "") + bucket.start.strftime("%d %b") for bucket in figures.buckets]
    names = [label for _, label in figures.types]
    per = "week" if weekly else "day"
    period = f"{figures.filters.start:%Y-%m-%d} to {figures.filters.end:%Y-%m-%d}"
    return {
        "credits_chart": charts.stacked_bars(
            id="chart-credits",
            title=f"Credits per {per} by entry type",
            description=f"Stacked bars, {period}; the table below lists every figure.",
            labels=labels,
            stacks=[[(index, bucket.credits(kind)) for index, (kind, _) in enumerate(figures.types)]
                    for bucket in figures.buckets],
            series_names=names,
        ),
        "pay_chart": charts.stacked_bars(
            id="chart-pay",
            title=f"Pay per {per} by entry type",
            description=f"Stacked bars, {period}; the table below lists every figure.",
            labels=labels,
            stacks=[[(index, float(bucket.pay(kind))) for index, (kind, _) in enumerate(figures.types)]
                    for bucket in figures.buckets],
            series_names=names,
            money=True,
        ),
        "distribution_chart": charts.ranges(
            id="chart-distribution",
            title="Current credits by rank",
            description="For each rank, a bar from the lowest to the highest credits, a mark at the median.",
            rows=[(row.label, row.low, row.median, row.high) for row in figures.distribution],
            width=420,
        ),
        "earners_chart": charts.ranges(
            id="chart-earners",
            title="Top earners by credits gained in the period",
            description="One bar per member, from zero to the credits they gained.",
            rows=[(earner.name, 0, None, earner.credits) for earner in figures.earners],
            label_width=170,
            width=420,  # drawn in a half-width panel: a narrower drawing keeps its text legible
        ),
    }


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
    yield ["section", "closed", "escalated", "reviewed", "median seconds", "90th percentile seconds"]
    yield [
        "reviews",
        reviews.closed,
        reviews.escalated,
        reviews.reviewed,
        *(int(value.total_seconds()) if value is not None else "" for value in (reviews.median, reviews.p90)),
    ]

"""The geometry of the dashboard's charts, drawn by the server as inline SVG (analytics/templates).

Numbers here only place shapes: every figure is also printed in a table beside its chart, from the
selectors' exact values (Decimal pay included).
"""

import math
from dataclasses import dataclass, field

from analytics.selectors import WEEK

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 40
MAX_X_LABELS = 5
SERIES_STYLES = 6  # fills in static/css/directorate.css: .series-0 to .series-5


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    series: int
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    id: str
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    rects: list = field(default_factory=list)
    lines: list = field(default_factory=list)  # (x1, y1, x2, y2, css class)
    marks: list = field(default_factory=list)  # (x, top y, title) of a diamond 22 high
    value_ticks: list = field(default_factory=list)
    category_ticks: list = field(default_factory=list)
    zero: float = 0
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def nice_step(span, most=5):
    """A round step (1, 2 or 5 times a power of ten) dividing `span` into at most `most` intervals."""
    if span <= 0:
        return 1
    raw = span / most
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def value_range(low, high):
    """An axis from a round number at or below `low` (and 0) to one at or above `high` (and 0), with its step."""
    low, high = min(low, 0), max(high, 0)
    if low == high:
        high = 1
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def number_label(value, money=False):
    if money:
        return f"¤{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"¤{value:,.2f}"
    return f"{value:,.0f}"


def stacked_bars(*, id, title, description, labels, stacks, series_names, money=False):
    """Vertical bars, one per label, each a stack of (series index, value) pieces: positive pieces rise from
    zero, negative ones hang below it."""
    chart = Chart(id=id, title=title, description=description)
    highs = [sum(value for _, value in stack if value > 0) for stack in stacks] or [0]
    lows = [sum(value for _, value in stack if value < 0) for stack in stacks] or [0]
    low, high, step = value_range(min(lows), max(highs))
    span = chart.bottom - chart.top

    def y(value):
        return chart.bottom - (value - low) / (high - low) * span

    chart.zero = y(0)
    chart.value_ticks = [
        Tick(y(low + index * step), number_label(low + index * step, money))
        for index in range(round((high - low) / step) + 1)
    ]
    slot = (chart.right - chart.left) / max(len(labels), 1)
    bar_width = max(slot * 0.7, 1)
    every = math.ceil(len(labels) / MAX_X_LABELS) if labels else 1
    for index, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        x = chart.left + index * slot + (slot - bar_width) / 2
        if index % every == 0:
            chart.category_ticks.append(Tick(x + bar_width / 2, label))
        above, below = 0, 0
        for series, value in stack:
            if not value:
                continue
            start = above if value > 0 else below
            end = start + value
            if value > 0:
                above = end
            else:
                below = end
            text = number_label(value, money) if not money else f"¤{value:,.2f}"
            chart.rects.append(
                Rect(
                    x=round(x, 2),
                    y=round(min(y(start), y(end)), 2),
                    width=round(bar_width, 2),
                    height=round(abs(y(end) - y(start)), 2),
                    series=series % SERIES_STYLES,
                    title=f"{label}, {series_names[series]}: {text}",
                )
            )
    return chart


def ranges(*, id, title, description, rows, label_width=110, width=WIDTH):
    """Horizontal ranges, one row per (label, low, median, high): a bar from lowest to highest, a mark at the
    median (none when the median is None: plain bars from `low`)."""
    row_height = 34
    chart = Chart(
        id=id, title=title, description=description, width=width, height=TOP + BOTTOM + row_height * max(len(rows), 1)
    )
    chart.left, chart.right = label_width, width - RIGHT
    chart.bottom = chart.height - BOTTOM
    lows = [row[1] for row in rows] or [0]
    highs = [row[3] for row in rows] or [0]
    low, high, step = value_range(min(lows), max(highs))

    def x(value):
        return chart.left + (float(value) - low) / (high - low) * (chart.right - chart.left)

    chart.zero = x(0)
    chart.value_ticks = [
        Tick(x(low + index * step), number_label(low + index * step)) for index in range(round((high - low) / step) + 1)
    ]
    for index, (label, row_low, median, row_high) in enumerate(rows):
        middle = chart.top + index * row_height + row_height / 2
        chart.category_ticks.append(Tick(middle, label))
        chart.rects.append(
            Rect(
                x=round(x(row_low), 2),
                y=round(middle - 7, 2),
                width=round(max(x(row_high) - x(row_low), 2), 2),
                height=14,
                series=1,
                title=f"{label}: {row_high:,}"
                if median is None
                else f"{label}: lowest {row_low:,}, highest {row_high:,}",
            )
        )
        if median is not None:
            chart.marks.append((round(x(median), 2), round(middle - 11, 2), f"{label}: median {median:,}"))
    return chart


def dashboard_charts(figures):
    """The dashboard's four charts, their legend, and the rows of the tables behind the day/week charts."""
    weekly = figures.filters.interval == WEEK
    labels = [("Week of " if weekly else "") + bucket.start.strftime("%d %b") for bucket in figures.buckets]
    names = [label for _, label in figures.types]
    per = "week" if weekly else "day"
    period = f"{figures.filters.start:%Y-%m-%d} to {figures.filters.end:%Y-%m-%d}"
    return {
        "legend": [(label, index % SERIES_STYLES) for index, (_, label) in enumerate(figures.types)],
        "series_rows": [
            (
                bucket.start,
                [bucket.credits(kind) for kind, _ in figures.types],
                [bucket.pay(kind) for kind, _ in figures.types],
            )
            for bucket in figures.buckets
        ],
        "credits_chart": stacked_bars(
            id="chart-credits",
            title=f"Credits per {per} by entry type",
            description=f"Stacked bars, {period}; the table below lists every figure.",
            labels=labels,
            stacks=[
                [(index, bucket.credits(kind)) for index, (kind, _) in enumerate(figures.types)]
                for bucket in figures.buckets
            ],
            series_names=names,
        ),
        "pay_chart": stacked_bars(
            id="chart-pay",
            title=f"Pay per {per} by entry type",
            description=f"Stacked bars, {period}; the table below lists every figure.",
            labels=labels,
            stacks=[
                [(index, float(bucket.pay(kind))) for index, (kind, _) in enumerate(figures.types)]
                for bucket in figures.buckets
            ],
            series_names=names,
            money=True,
        ),
        "distribution_chart": ranges(
            id="chart-distribution",
            title="Current credits by rank",
            description="For each rank, a bar from the lowest to the highest credits, a mark at the median.",
            rows=[(row.label, row.low, row.median, row.high) for row in figures.distribution],
            width=420,
        ),
        "earners_chart": ranges(
            id="chart-earners",
            title="Top earners by credits gained in the period",
            description="One bar per member, from zero to the credits they gained.",
            rows=[(earner.name, 0, None, earner.credits) for earner in figures.earners],
            label_width=170,
            width=420,  # drawn in a half-width panel: a narrower drawing keeps its text legible
        ),
    }

from datetime import timedelta

from django import forms

from analytics.selectors import DAY, WEEK, Filters, rank_choices
from directorate.db import now

PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]
# The refused value is not repeated back: a rank nobody else may see stays unnamed even when typed in.
NOT_LISTED = {"invalid_choice": "Choose one of the listed options."}
LONGEST_RANGE_DAYS = 366
EARLIEST_YEAR = 2000


class AnalyticsFilterForm(forms.Form):
    """The dashboard's filters (GET). From and to, when given, override the period."""

    period = forms.ChoiceField(choices=PERIODS, required=False, initial="30", error_messages=NOT_LISTED)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    rank = forms.ChoiceField(required=False, error_messages=NOT_LISTED)
    interval = forms.ChoiceField(
        label="Per", choices=[(DAY, "Day"), (WEEK, "Week")], required=False, initial=DAY, error_messages=NOT_LISTED
    )

    def __init__(self, data=None, *, viewer, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["rank"].choices = [("", "All ranks"), *rank_choices(viewer)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        today = now().date()
        if self.errors:
            return cleaned
        if start or end:
            if not (start and end):
                raise forms.ValidationError("Give both dates of a range, from and to.", code="incomplete")
            if start > end:
                self.add_error("end", "The end comes before the start.")
            elif end > today:
                self.add_error("end", "The range cannot end after today.")
            elif start.year < EARLIEST_YEAR:
                self.add_error("start", f"The range starts in {EARLIEST_YEAR} or later.")
            elif (end - start).days + 1 > LONGEST_RANGE_DAYS:
                self.add_error("end", f"A range covers at most {LONGEST_RANGE_DAYS} days.")
        return cleaned

    def filters(self):
        """The validated filters (call after is_valid())."""
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if not (start and end):
            end = now().date()
            start = end - timedelta(days=int(data.get("period") or self.fields["period"].initial) - 1)
        return Filters(start=start, end=end, interval=data.get("interval") or DAY, rank=data.get("rank") or "")

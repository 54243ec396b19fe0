from django import forms

from directorate.forms import PageForm, figure_field, note_field
from tickets.categories import CATEGORIES
from tickets.models import Ticket


def person_choices(people):
    return [(person.id, f"{person.get_rank_display()} {person.display_name} ({person.username})") for person in people]


def addressee_choices(people, author):
    """The "Address to" options, grouped by what a ticket to each person means for its writer."""
    own, superior, subordinates = [], [], []
    for choice, person in zip(person_choices(people), people, strict=True):
        if person.id == author.id:
            own.append(choice)
        elif person.id == author.reports_to_id:
            superior.append(choice)
        else:
            subordinates.append(choice)
    groups = [
        ("Yourself: your own work, paid after review", own),
        ("Your superior: a request, earns you nothing", superior),
        ("A subordinate: a directive, the reward is theirs", subordinates),
    ]
    return [(label, choices) for label, choices in groups if choices]


class TicketCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=[("", "Choose a category")] + [(name, name) for name in CATEGORIES])
    sub_category = forms.CharField(max_length=30, widget=forms.Select)
    assignee = forms.ChoiceField(label="Address to")
    visibility = forms.ChoiceField(choices=Ticket.Visibility.choices, initial=Ticket.Visibility.HIERARCHICAL)
    subject = forms.ChoiceField(label="Concerning (personnel tickets)", required=False)
    body_md = forms.CharField(label="Details (markdown)", required=False, widget=forms.Textarea(attrs={"rows": 8}))
    # The reward proposed for the work, for a ticket to yourself or a subordinate (docs/rules.md section 18).
    reward_credits = figure_field("Proposed credits (optional)", whole=True)
    reward_pay = figure_field("Proposed pay in ¤ (optional)")

    def __init__(self, *args, addressable=(), subjects=(), author=None, reviewer=None, limit_warning="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reward_credits"].help_text = (
            "Only for a ticket to yourself or a subordinate; a request to your superior takes none. "
            "Left empty: your rank's base credit when you submit."
        )
        self.fields["reward_pay"].help_text = " ".join(
            part
            for part in (
                "Write amounts with a point: 12.50. Left empty: base hourly pay × the hours you give when you submit.",
                limit_warning,
            )
            if part
        )
        self.fields["assignee"].choices = (
            addressee_choices(addressable, author) if author else person_choices(addressable)
        )
        if author is not None and reviewer is not None:
            # Whether the ticket can earn its writer a reward, said where they choose (docs/rules.md section 18).
            self.fields["assignee"].help_text = (
                f"Yourself: work you report for a reward; when you submit it, {reviewer} reviews it and approves "
                "your pay. Your superior: a request for them to act; it earns you nothing. "
                "A subordinate: a directive; the reward is theirs."
            )
            if any(person.id == author.id for person in addressable):
                self.fields["assignee"].initial = author.id
        self.fields["subject"].choices = [("", "Nobody in particular")] + person_choices(subjects)
        category = self.data.get("category") or self.initial.get("category")
        self.fields["sub_category"].widget.choices = sub_category_choices(category)


def sub_category_choices(category):
    subs = CATEGORIES.get(category or "", ())
    return [(sub, sub) for sub in subs] if subs else [("", "Choose a category first")]


def proposal_initial(ticket: Ticket) -> dict[str, object]:
    """The submit form's starting figures: the proposal stored on `ticket` when it was filed. A figure of 0
    is no proposal, so the empty input keeps its default at submission (docs/rules.md section 18)."""
    initial: dict[str, object] = {}
    if ticket.reward_credits:
        initial["reward_credits"] = ticket.reward_credits
    if ticket.reward_pay:
        initial["reward_pay"] = ticket.reward_pay
    return initial


def proposal_form(ticket: Ticket) -> "SubmitForm":
    """The submit form's inputs as an open ticket shows them: prefilled, read-only until work has started."""
    form = SubmitForm(initial=proposal_initial(ticket))
    for field in form.fields.values():
        field.disabled = True
    return form


# The forms of a ticket's actions. They carry what was typed, as text: the services parse and check it, and
# their refusals are put back at these fields (tickets.views.ticket_action), so every message sits beside the
# input it is about, for full-page and htmx posts alike.


class SubmitForm(PageForm):
    id_prefix = "submit"
    hours_worked = figure_field("Hours worked")
    reward_credits = figure_field("Credits", whole=True)
    reward_pay = figure_field("Pay (¤)")


class ApproveForm(PageForm):
    id_prefix = "approve"
    credits = figure_field("Credits", whole=True)
    pay = figure_field("Pay (¤)")
    note = note_field("Note")


class EscalateForm(PageForm):
    id_prefix = "escalate"
    note = note_field("Why escalate")


class SendBackForm(PageForm):
    id_prefix = "sendback"
    note = note_field("What needs rework", max_length=10_000)


class PromoteForm(PageForm):
    id_prefix = "promote"
    note = note_field("Note")


class DenyForm(PageForm):
    id_prefix = "deny"
    note = note_field("Why deny")

from django import forms

from tickets.categories import CATEGORIES
from tickets.models import Ticket


def person_choices(people):
    return [(person.id, f"{person.get_rank_display()} {person.display_name} ({person.username})") for person in people]


class TicketCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=[("", "Choose a category")] + [(name, name) for name in CATEGORIES])
    sub_category = forms.CharField(max_length=30, widget=forms.Select)
    assignee = forms.ChoiceField(label="Address to")
    visibility = forms.ChoiceField(choices=Ticket.Visibility.choices, initial=Ticket.Visibility.HIERARCHICAL)
    subject = forms.ChoiceField(label="Concerning (personnel tickets)", required=False)
    body_md = forms.CharField(label="Details (markdown)", required=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, addressable=(), subjects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = person_choices(addressable)
        self.fields["subject"].choices = [("", "Nobody in particular")] + person_choices(subjects)
        category = self.data.get("category") or self.initial.get("category")
        self.fields["sub_category"].widget.choices = sub_category_choices(category)


def sub_category_choices(category):
    subs = CATEGORIES.get(category or "", ())
    return [(sub, sub) for sub in subs] if subs else [("", "Choose a category first")]

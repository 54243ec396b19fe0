"""The forms of Niki's console. Each one becomes one command of Niki's schema (`nyx.actions`), carried out by
`nyx.services.niki_command`: the same service, checks and audit entry as the JSON route `/niki/command`.

People and tickets are chosen with a search field whose results are radio buttons (`nyx/niki_picker.html`);
the posted value is the id of the one chosen, never typed by hand.
"""

from django import forms

from accounts.ranks import HUMAN_RANKS
from accounts.services import BROADCAST_MAX
from directorate.forms import figure_field
from nyx.actions import NOTE_MAX, TOPIC_MAX

RANK_CHOICES = [(rank.value, rank.label) for rank in HUMAN_RANKS]
AMOUNT_MAX = 20


def _picked(label, *, required=True):
    return forms.CharField(
        label=label,
        required=required,
        max_length=24,
        widget=forms.HiddenInput,  # drawn by the picker, as radio buttons
        error_messages={"required": f"Choose the {label.lower()}: search, then pick one."},
    )


def _amount(label, help_text):
    return figure_field(label, max_length=AMOUNT_MAX, help_text=help_text)


def _reason(label="Reason"):
    return forms.CharField(
        label=label,
        max_length=NOTE_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Give a reason: it is kept in the audit log."},
    )


class NikiForm(forms.Form):
    """A console form. `payload()` is the command it sends: `action`, and each of the schema's fields read from
    the form's field `service_fields` names (an empty one sent as `when_empty` says, where it says). The same map
    puts a refusal back at the field it is about."""

    action = ""
    service_fields: dict[str, str] = {}
    when_empty: dict[str, object] = {}

    def payload(self):
        data = self.cleaned_data
        fields = {
            name: data[field] if data[field] or name not in self.when_empty else self.when_empty[name]
            for name, field in self.service_fields.items()
        }
        return {"action": self.action, **fields}

    def attach(self, outcome):
        placed = False
        for name, messages in (outcome.field_errors or {}).items():
            field = self.service_fields.get(name, name)
            if field in self.fields:
                for message in messages:
                    self.add_error(field, message)
                placed = True
        self.add_error(None, outcome.reason)
        return placed


class OverrideForm(NikiForm):
    ticket = _picked("Ticket")
    credits = _amount("Credits", "Empty: as proposed.")
    pay = _amount("Pay (¤)", "Empty: as proposed.")
    reason = _reason()
    action = "override_approve"
    service_fields = {"ticket_id": "ticket", "credits": "credits", "pay": "pay", "reasoning": "reason"}
    when_empty = {"credits": None, "pay": None}  # as proposed


class AdjustForm(NikiForm):
    member = _picked("Member")
    credits = _amount("Credits", "A whole number; negative takes credits away.")
    pay = _amount("Pay (¤)", "Negative takes money away, never below zero.")
    reason = _reason()
    action = "adjust"
    service_fields = {"user_id": "member", "credits": "credits", "pay": "pay", "reason": "reason"}
    when_empty = {"credits": 0, "pay": "0"}

    def clean(self):
        data = super().clean()
        if not data.get("credits") and not data.get("pay") and not self.errors:
            raise forms.ValidationError("Give credits, pay or both.")
        return data


class RankForm(NikiForm):
    member = _picked("Member")
    rank = forms.ChoiceField(
        label="New rank",
        choices=RANK_CHOICES,
        error_messages={
            "invalid_choice": "A rank is asset, shadow, marshal or executor: nobody is made Nyx or the Controller."
        },
    )
    superior = _picked("New superior", required=False)
    action = "move_member"
    service_fields = {"user_id": "member", "rank": "rank", "reports_to_id": "superior"}
    when_empty = {"reports_to_id": None}  # the same superior


class MoveForm(NikiForm):
    member = _picked("Member")
    superior = _picked("New superior")
    action = "move_member"
    service_fields = {"user_id": "member", "reports_to_id": "superior"}


class BroadcastForm(NikiForm):
    message = forms.CharField(
        label="Message to every member",
        max_length=BROADCAST_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write the command to broadcast."},
    )
    action = "broadcast"
    service_fields = {"message": "message"}


class DirectivesForm(NikiForm):
    topic = forms.CharField(
        label="Ask Nyx for directives on",
        max_length=TOPIC_MAX,
        widget=forms.TextInput(attrs={"placeholder": "a topic, e.g. perimeter inspection", "autocomplete": "off"}),
        error_messages={"required": "Name the topic of the directives."},
    )
    action = "request_directives"
    service_fields = {"topic": "topic"}


# The console's actions, by the name in their route (`/niki/act/<name>`): the form and what the page calls it.
CONSOLE_FORMS = {
    "override": (OverrideForm, "Override a review"),
    "adjust": (AdjustForm, "Adjust a member"),
    "rank": (RankForm, "Promote or demote"),
    "move": (MoveForm, "Move under another superior"),
    "broadcast": (BroadcastForm, "Broadcast"),
    "directives": (DirectivesForm, "Ask Nyx for directives"),
}


def console_forms(bound_name=None, data=None):
    """Every console form, prefixed by its name; the one named `bound_name` bound to `data`."""
    return {
        name: form_class(data if name == bound_name else None, prefix=name, auto_id="%s")
        for name, (form_class, _title) in CONSOLE_FORMS.items()
    }

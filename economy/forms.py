from django import forms

from directorate.forms import note_field


class ReverseForm(forms.Form):
    """The reason for reversing a ledger entry; the service checks it (and everything else)."""

    reason = note_field("Reason for reversing")

    def __init__(self, *args, entry_id="", **kwargs):
        super().__init__(*args, auto_id=f"reverse-{entry_id}-%s", **kwargs)

from django import forms


class ReverseForm(forms.Form):
    """The reason for reversing a ledger entry; the service checks it (and everything else)."""

    reason = forms.CharField(label="Reason for reversing", required=False, max_length=500)

    def __init__(self, *args, entry_id="", **kwargs):
        super().__init__(*args, auto_id=f"reverse-{entry_id}-%s", **kwargs)

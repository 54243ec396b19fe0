from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.services import sign_in
from directorate.errors import Invalid, Throttled
from directorate.forms import PageForm, figure_field, note_field


class ThrottledLoginForm(AuthenticationForm):
    """Django's sign-in form over the one sign-in check (`accounts.services.sign_in`), which the API shares.

    The same message is given whether or not the account exists.
    """

    error_messages = {
        "invalid_login": "Service name or password is incorrect.",
        "inactive": "Service name or password is incorrect.",
    }

    username = forms.CharField(
        label="Service name",
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.throttled = False

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data  # the field's own error says what is missing
        try:
            self.user_cache = sign_in(request=self.request, username=username, password=password)
        except Throttled as refusal:
            self.throttled = True
            raise forms.ValidationError(refusal.message, code="throttled") from refusal
        except Invalid as refusal:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login") from refusal
        return self.cleaned_data


class AdjustForm(PageForm):
    """A manual adjustment as typed, on a person's page; the economy's adjustment service parses and checks it."""

    id_prefix = "adjust"
    credits = figure_field("Credits", whole=True)
    pay = figure_field("Pay (¤)")
    reason = note_field("Reason")

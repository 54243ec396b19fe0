from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.selectors import login_lockout_seconds
from accounts.services import clear_login_failures, record_login_failure


class ThrottledLoginForm(AuthenticationForm):
    """Django's sign-in form, refusing further tries after repeated failures.

    The same message is given whether or not the account exists.
    """

    error_messages = {
        "invalid_login": "Service name or password is incorrect.",
        "inactive": "Service name or password is incorrect.",
        "throttled": "Too many failed sign-in attempts. Try again in %(minutes)s.",
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
        username = self.cleaned_data.get("username", "")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        wait = login_lockout_seconds(username=username, address=address)
        if wait:
            self.throttled = True
            minutes = max(1, -(-wait // 60))
            raise forms.ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": f"{minutes} minute" + ("" if minutes == 1 else "s")},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_login_failure(username=username, address=address)
            raise
        clear_login_failures(username=username)
        return cleaned

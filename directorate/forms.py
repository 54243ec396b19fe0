"""Form pieces the apps' pages share: a figure typed as text, a short note, and ids that keep several forms
apart on one page."""

from typing import Any

from django import forms

FIGURE_MAX = 40
NOTE_MAX = 500


def figure_field(label: str, *, whole: bool = False, max_length: int = FIGURE_MAX, **options: Any) -> forms.CharField:
    """A figure as typed (credits when `whole`, an amount of pay or hours otherwise), optional: the service
    parses and checks it, so a refusal names the figure as it was written. The input asks for a number pad
    and no remembered entries."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        widget=forms.TextInput(attrs={"inputmode": "numeric" if whole else "decimal", "autocomplete": "off"}),
        **options,
    )


def note_field(label: str, *, max_length: int = NOTE_MAX) -> forms.CharField:
    """An optional note or reason as typed; the service says whether it may be empty."""
    return forms.CharField(label=label, required=False, max_length=max_length)


class PageForm(forms.Form):
    """A form that shares its page with others: its inputs' ids start with `id_prefix` ("approve-credits")."""

    id_prefix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)

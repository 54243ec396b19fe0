from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from attachments.content import ALLOWED
from tickets.services import COMMENT_MAX

ACCEPT = ".png,.jpg,.jpeg,.gif,.pdf,.txt,.md,.log,.csv"


def file_field(label, *, required):
    return forms.FileField(
        label=label,
        required=required,
        max_length=1000,  # longer names are shortened when stored, not refused
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )


def file_help():
    limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
    return f"{ALLOWED}, at most {limit}. The name's ending must match the content."


class WithFile(forms.Form):
    """A form with a `file` field whose help names the limit in force (a setting)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = file_help()


class AttachmentForm(WithFile):
    file = file_field("File", required=True)


class CommentForm(WithFile):
    body_md = forms.CharField(
        label="Comment (markdown)", max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    file = file_field("Attach a file (optional)", required=False)

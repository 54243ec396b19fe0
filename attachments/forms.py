from django import forms

from attachments.content import ALLOWED, FILENAME_MAX
from tickets.services import COMMENT_MAX

ACCEPT = ".png,.jpg,.jpeg,.gif,.pdf,.txt,.md,.log,.csv"


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label="File",
        max_length=1000,  # longer names are shortened to FILENAME_MAX, not refused
        help_text=f"{ALLOWED}; the name's ending must match the content. Names keep {FILENAME_MAX} characters.",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )


class CommentForm(forms.Form):
    body_md = forms.CharField(
        label="Comment (markdown)", max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    file = forms.FileField(
        label="Attach a file (optional)",
        required=False,
        max_length=1000,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )

"""Attachment pages: upload to a ticket, a comment with a file, and the download.

Uploads answer like the ticket's other actions (tickets/views.py): the redrawn ticket panel for htmx,
a redirect to the ticket otherwise; a refused file shows its reason at the form, with a 4xx status.
"""

from urllib.parse import quote

from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from attachments import selectors, services
from attachments.forms import AttachmentForm, CommentForm
from attachments.storage import attachment_storage
from directorate.errors import Invalid, NotFound
from tickets.selectors import ticket_for
from tickets.views import ticket_context

INLINE_SAFE_NAME = str.maketrans({char: "_" for char in '"\\'})


@require_POST
def upload(request, ticket_id):
    form = AttachmentForm(request.POST, request.FILES, auto_id="attachment-%s")
    return _handle(
        request,
        ticket_id,
        form,
        "attachment_form",
        lambda data: services.attach_to_ticket(actor=request.user, ticket_id=ticket_id, upload=data["file"]),
        "File attached.",
    )


@require_POST
def comment(request, ticket_id):
    form = CommentForm(request.POST, request.FILES, auto_id="comment-%s")
    return _handle(
        request,
        ticket_id,
        form,
        "comment_form",
        lambda data: services.comment_with_attachment(
            actor=request.user, ticket_id=ticket_id, body_md=data["body_md"], upload=data["file"]
        ),
        "Comment added.",
    )


def _handle(request, ticket_id, form, form_name, perform, success):
    if form.is_valid():
        try:
            perform(form.cleaned_data)
        except Invalid as error:
            form.add_error(next((name for name in error.field_errors if name in form.fields), None), error.message)
        else:
            messages.success(request, success)
            if request.htmx:
                list(messages.get_messages(request))  # the redrawn panel shows the result
                return _ticket_page(request, ticket_id)
            return redirect("ticket", ticket_id=ticket_id)
    return _ticket_page(request, ticket_id, status=400, **{form_name: form})


def _ticket_page(request, ticket_id, status=200, **forms):
    ticket = ticket_for(request.user, ticket_id)
    context = {**ticket_context(request.user, ticket), **forms}
    template = "tickets/detail.html#ticket" if request.htmx else "tickets/detail.html"
    return render(request, template, context, status=status)


@require_GET
def download(request, attachment_id):
    """The file, to those who see its ticket: always as a download, never shown by the browser itself."""
    return file_response(selectors.attachment_for(request.user, attachment_id))


def file_response(attachment):
    """The attachment's bytes with its verified type, as a download that nothing stores or sniffs."""
    try:
        handle = attachment_storage().open(attachment.storage_name)
    except FileNotFoundError:
        raise NotFound(selectors.NO_SUCH_ATTACHMENT) from None
    content_type = attachment.content_type
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Length"] = str(attachment.size)
    response["Content-Disposition"] = content_disposition(attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    # Were it ever opened in place, it could run nothing and reach nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    add_never_cache_headers(response)
    patch_cache_control(response, private=True)
    return response


def content_disposition(filename):
    """`attachment` with the name twice (RFC 6266): ASCII for old clients, UTF-8 per RFC 5987 for the rest."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").translate(INLINE_SAFE_NAME)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"

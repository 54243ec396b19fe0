"""The download of an attachment. Uploads are actions of one ticket's page (desk/views.py)."""

from urllib.parse import quote

from django.http import FileResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET

from attachments import selectors
from attachments.storage import attachment_storage
from directorate.errors import NotFound

INLINE_SAFE_NAME = str.maketrans({char: "_" for char in '"\\'})


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

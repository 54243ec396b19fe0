"""The JSON API's attachments (docs/api.md): reads through `attachments.selectors`, uploads through
`attachments.services`. An attachment of a ticket the caller may not see answers 404, like one that does
not exist."""

from ninja import File, Router, Status, UploadedFile

from attachments import selectors, services
from attachments.content import BINARY_TYPES, TEXT_EXTENSIONS
from attachments.schemas import AttachmentOut, attachment_out
from attachments.views import file_response
from directorate.schemas import errors

router = Router(tags=["attachments"])

DOWNLOAD_TYPES = sorted({*BINARY_TYPES, *TEXT_EXTENSIONS.values()})


@router.get("/tickets/{ticket_id}/attachments", response={200: list[AttachmentOut], **errors(401, 404)})
def list_attachments(request, ticket_id: str):
    """The files of a ticket you see, those of its comments included (`comment_id`), oldest first."""
    return [attachment_out(attachment) for attachment in selectors.attachments_for(request.auth, ticket_id)]


@router.post("/tickets/{ticket_id}/attachments", response={201: AttachmentOut, **errors(400, 401, 404, 409)})
def upload(request, ticket_id: str, file: File[UploadedFile]):
    """Attach a file (multipart/form-data, field `file`) to a ticket you see, until it closes. Its type is
    read from its content: PNG, JPEG, GIF, PDF, UTF-8 text or CSV, named to match."""
    attachment = services.attach_to_ticket(actor=request.auth, ticket_id=ticket_id, upload=file)
    return Status(201, attachment_out(attachment))


@router.get(
    "/attachments/{attachment_id}",
    response={200: None, **errors(401, 404)},
    url_name="download_attachment",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, as a download, with its verified type.",
                "content": {
                    content_type: {"schema": {"type": "string", "format": "binary"}} for content_type in DOWNLOAD_TYPES
                },
            }
        }
    },
)
def download(request, attachment_id: str):
    """The file's bytes, with its verified type, `Content-Disposition: attachment` and `nosniff`."""
    return file_response(selectors.attachment_for(request.auth, attachment_id))

"""What stands in front of the Django application in `directorate/asgi.py`: the static files and a body limit.

- `StaticFiles`: Django's ASGI static files handler, with a path that tries to leave the static folders
  (`/static/..%2f..%2fetc%2fpasswd`) answered 404 like any missing file, not 500.
- `RequestBodyLimit`: a request whose `Content-Length` is over the limit is answered 413 before the
  application reads a byte of its body, so Django never copies or parses it; a body sent without a length
  (chunked) is cut off with the same 413 once it passes the limit. The limit is `REQUEST_MAX_BYTES`
  for a multipart upload and Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` for anything else. daphne itself takes
  the body off the socket before the application runs, so a public server also needs the same limit at its
  reverse proxy (docs/operations.md).
"""

import json

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.templatetags.static import static

TOO_LARGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Too large · Directorate of Order</title>
<link rel="stylesheet" href="{stylesheet}"></head>
<body><main id="main"><section class="panel panel-error" role="alert"><h1>Request too large</h1>
<p>{detail}</p><p><a href="/">Back to the dashboard</a></p></section></main></body></html>
"""


class StaticFiles(ASGIStaticFilesHandler):
    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousOperation as error:  # a path outside the static folders: simply not there
            raise Http404("Not found.") from error


def body_limit(scope):
    """The most bytes a request's body may have: uploads (multipart) get room for their files."""
    content_type = header(scope, b"content-type").lower()
    if content_type.startswith("multipart/"):
        return settings.REQUEST_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def header(scope, name):
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def too_large_detail(limit):
    return f"The request body is too large: at most {limit:,} bytes."


async def answer_too_large(scope, send, limit):
    detail = too_large_detail(limit)
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": detail, "code": "too_large", "errors": {}}).encode()
        content_type = b"application/json"
    else:
        body = TOO_LARGE_PAGE.format(stylesheet=static("css/directorate.css"), detail=detail).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"),
                (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimit:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = body_limit(scope)
        length = header(scope, b"content-length").strip()
        if length.isdigit() and int(length) > limit:
            return await answer_too_large(scope, send, limit)

        received = 0
        refused = False

        async def counted_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    await answer_too_large(scope, send, limit)
                    return {"type": "http.disconnect"}  # the application stops reading and answers nothing
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.application(scope, counted_receive, guarded_send)

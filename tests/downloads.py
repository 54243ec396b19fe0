"""Reading a streamed download in a test, as the ASGI server sends it (an asynchronous iterator)."""

from asgiref.sync import async_to_sync
from django.http import HttpResponse


def downloaded(response):
    """The whole body of a streaming response, decoded from UTF-8."""

    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)().decode("utf-8")


def materialised(response):
    """A streaming response as an ordinary one with the same status, headers and body (for `.content`)."""
    if not response.streaming:
        return response
    whole = HttpResponse(downloaded(response), status=response.status_code)
    for header, value in response.items():
        whole[header] = value
    return whole

"""Reading a streamed download in a test, as the ASGI server sends it (an asynchronous iterator)."""

from asgiref.sync import async_to_sync


def downloaded(response):
    """The whole body of a streaming response, decoded from UTF-8."""

    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)().decode("utf-8")

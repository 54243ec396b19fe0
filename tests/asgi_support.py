"""Driving an ASGI application in process as a server would: shared by the tests that need what Django's test
client skips (the static files handler, the request body limit, the ASGI handler's threads)."""

from asgiref.testing import ApplicationCommunicator


def get_scope(path):
    """The ASGI scope of a plain `GET path` from a browser on loopback."""
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 5000),
    }


async def status_of(application, path):
    """The status `application` answers `GET path` with, once the whole answer is sent."""
    communicator = ApplicationCommunicator(application, get_scope(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    return start["status"]

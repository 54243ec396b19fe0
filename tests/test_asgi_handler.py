"""directorate.handler: each request's synchronous work runs on a thread kept for the requests after it."""

import asyncio
import threading

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished

from directorate.handler import ASGIHandler


def scope(path):
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


async def status_of(handler, path):
    communicator = ApplicationCommunicator(handler, scope(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    return start["status"]


async def given_back(handler, count):
    for _ in range(500):
        if len(handler.idle) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(handler.idle)} idle threads, not {count}")


def test_requests_one_after_another_run_on_one_kept_thread(db):
    handler = ASGIHandler()
    threads = []

    def record(**kwargs):
        threads.append(threading.current_thread())  # sent from the request's synchronous work

    async def three_requests():
        statuses = []
        for _ in range(3):
            statuses.append(await status_of(handler, "/login/"))
            await given_back(handler, 1)
        return statuses

    request_finished.connect(record)
    try:
        assert async_to_sync(three_requests)() == [200, 200, 200]
    finally:
        request_finished.disconnect(record)
    assert len(threads) == 3 and len(set(threads)) == 1
    assert threads[0].name.startswith("request") and threads[0].is_alive()


def test_requests_at_the_same_time_run_on_threads_of_their_own(db):
    handler = ASGIHandler()
    threads = []
    both_started = threading.Barrier(2, timeout=10)

    def record(**kwargs):
        threads.append(threading.current_thread())
        both_started.wait()  # each waits for the other: they can only meet on two threads

    async def two_requests():
        statuses = await asyncio.gather(status_of(handler, "/login/"), status_of(handler, "/login/"))
        await given_back(handler, 2)
        return statuses

    request_finished.connect(record)
    try:
        assert async_to_sync(two_requests)() == [200, 200]
    finally:
        request_finished.disconnect(record)
    assert len(set(threads)) == 2

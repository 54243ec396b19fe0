"""directorate.handler: each request's synchronous work runs on a thread kept for the requests after it, one
request's at a time, except while it waits outside the server."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from django.core.signals import request_finished

from directorate.handler import REQUEST_SLOTS, ASGIHandler, _slots, slot_released
from tests.asgi_support import status_of


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


def finished_by_two_requests_at_once(handler, on_finish):
    """Two requests sent together; `on_finish` runs in each one's synchronous work (the response's close)."""
    threads = []

    def record(**kwargs):
        threads.append(threading.current_thread())
        on_finish()

    async def two_requests():
        statuses = await asyncio.gather(status_of(handler, "/login/"), status_of(handler, "/login/"))
        await given_back(handler, 2)
        return statuses

    request_finished.connect(record)
    try:
        assert async_to_sync(two_requests)() == [200, 200]
    finally:
        request_finished.disconnect(record)
    return threads


def test_requests_at_the_same_time_run_on_threads_of_their_own_one_at_a_time(db):
    running, overlapped = [], []

    def busy():
        running.append(1)
        overlapped.append(len(running) > REQUEST_SLOTS)
        time.sleep(0.05)  # long enough for the other request's work to start, were it let in
        running.pop()

    threads = finished_by_two_requests_at_once(ASGIHandler(), busy)
    assert len(set(threads)) == 2
    assert overlapped == [False, False]


def test_a_request_waiting_outside_the_server_lets_the_other_run(db):
    both_waiting = threading.Barrier(2, timeout=10)

    def wait_outside():
        with slot_released():
            both_waiting.wait()  # each waits for the other: they meet only if both gave their slot up

    threads = finished_by_two_requests_at_once(ASGIHandler(), wait_outside)
    assert len(set(threads)) == 2


def test_outside_a_request_releasing_no_slot_changes_nothing():
    with slot_released():
        pass
    with ThreadPoolExecutor(max_workers=REQUEST_SLOTS) as pool:
        holders = [pool.submit(_slots.acquire, timeout=1) for _ in range(REQUEST_SLOTS)]
        assert [holder.result() for holder in holders] == [True] * REQUEST_SLOTS
    for _ in range(REQUEST_SLOTS):
        _slots.release()


def test_a_requests_middleware_and_view_run_as_one_synchronous_call(db):
    """No middleware of the project's runs async, so the chain is built synchronous: the view runs inside the
    middleware's call on the request's thread, without going back to the event loop in between."""
    handler = ASGIHandler()
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)

    async def answers():
        return [await status_of(handler, path) for path in ("/login/", "/no-such-page/", "/static/css/directorate.css")]

    assert async_to_sync(answers)() == [200, 404, 404]  # static files are the server's, not this handler's

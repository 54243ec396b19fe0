"""Django's ASGI handler, with each request's synchronous work on a kept thread, one request's at a time.

Kept threads: Django runs every request in a thread-sensitive context of its own, and asgiref gives each such
context a new one-thread executor: every request started a thread for its views and middleware, and another to
join that one at the end. Each start blocks the event loop until the new thread holds the interpreter lock.
Here a request takes an idle executor (a thread already running) and gives it back once everything it queued
there has run, so that a request abandoned by its client mid-view never shares its thread with the next one.

One piece of work: Django builds an ASGI handler's middleware chain for async use. Ours are synchronous, so the
chain ran each request on its thread, then back on the event loop to resolve the URL, then on the thread again
for the view, and back twice more: four more thread switches per request, each a wait for the event loop, all
while the request held its slot. The chain is built synchronous here (`load_middleware`), and a request's
middleware and view run as one call on its thread (`get_response_async`).

One at a time (docs/rules.md, "One request at a time in each server process"): the synchronous work of a
request (its middleware and view, then the response's close) holds one of REQUEST_SLOTS slots of the process
while it runs. Python runs one thread at a time anyway, so several requests computing side by side in one
process only take turns; but a request that holds SQLite's write lock then waits for its turns too, while
every writer of every process waits for it. Under the 32-client load the lock was held 9.3 ms per write that
way, 5 to 6 ms with one slot (benchmarks/README.md). A wait on something outside the server (the model's answer to
Nyx) gives its slot up meanwhile: `slot_released()`.
"""

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers import asgi

REQUEST_SLOTS = 1  # requests of one process whose synchronous work runs at once
IDLE_THREADS = 64  # threads kept for later requests; more concurrent requests start more, ended after use

_slots = threading.BoundedSemaphore(REQUEST_SLOTS)
_holder = threading.local()  # .slot: whether this thread holds a slot now


def _in_slot(work, /, *args, **kwargs):
    with _slots:
        _holder.slot = True
        try:
            return work(*args, **kwargs)
        finally:
            _holder.slot = False


@contextmanager
def slot_released() -> Iterator[None]:
    """Around a wait on something outside the server: the process's other requests run meanwhile. Nothing
    outside a request's synchronous work (the worker, management commands, tests)."""
    if not getattr(_holder, "slot", False):
        yield
        return
    _holder.slot = False
    _slots.release()
    try:
        yield
    finally:
        _slots.acquire()
        _holder.slot = True


class RequestExecutor(ThreadPoolExecutor):
    """One thread running one request's synchronous work at a time, each piece in a slot."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return super().submit(_in_slot, fn, *args, **kwargs)


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self):
        super().__init__()
        self.idle: list[RequestExecutor] = []  # touched only from the event loop's thread

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # refused there
        executor = self.idle.pop() if self.idle else RequestExecutor()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            loop = asyncio.get_running_loop()
            done = ThreadPoolExecutor.submit(executor, lambda: None)  # once all the request queued there has run
            done.add_done_callback(lambda _: loop.call_soon_threadsafe(self._give_back, executor))

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    def _give_back(self, executor: RequestExecutor) -> None:
        if len(self.idle) < IDLE_THREADS:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


def get_asgi_application() -> ASGIHandler:
    """As `django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return ASGIHandler()

"""Django's ASGI handler, with each request's synchronous work on a thread kept for the requests after it.

Django runs every request in a thread-sensitive context of its own, and asgiref gives each such context a new
one-thread executor: every request started a thread for its views and middleware, and another to join that one
at the end. Each start blocks the event loop until the new thread holds the interpreter lock, which a busy
process hands over only every few milliseconds: under the 32-client load these starts and joins were about a
tenth of the server processes' samples. Here a request takes an idle executor (a thread already running) and
gives it back once everything it queued there has run, so that a request abandoned by its client mid-view never
shares its thread with the next one. Requests still run side by side, each on its own thread, as before.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext
from django.core.handlers import asgi

IDLE_THREADS = 64  # threads kept for later requests; more concurrent requests start more, ended after use


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self):
        super().__init__()
        self.idle: list[ThreadPoolExecutor] = []  # touched only from the event loop's thread

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # refused there
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            loop = asyncio.get_running_loop()
            done = executor.submit(lambda: None)  # runs once all the request queued on that thread has run
            done.add_done_callback(lambda _: loop.call_soon_threadsafe(self._give_back, executor))

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < IDLE_THREADS:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


def get_asgi_application() -> ASGIHandler:
    """As `django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return ASGIHandler()

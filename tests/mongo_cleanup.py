"""Cheap cleanup between tests on MongoDB.

Django's test case cannot roll a MongoDB test back (the backend runs no test inside a transaction), so
after each test it flushes: it empties every model's collection, then runs the post-migrate handlers
that write the content types and permissions again. That costs more than most tests. Here pymongo's
command monitoring notes which collections this process wrote to, and a test ends by emptying just
those (GridFS's included, which the flush never empties). The content types and permissions migrate
wrote are kept, unless a test wrote to them, in which case Django's own flush runs.

Writes made by another process (a server started by a test) are not seen: such a test must clean up
after itself. Any MongoDB gets this, the wire server of the test tier and a real one alike.
"""

import threading

from django.conf import settings
from django.db import connections
from django.test import TransactionTestCase
from pymongo import monitoring

# Written by migrate (and its post-migrate handlers) once, and kept between tests.
KEPT = {"django_migrations", "django_content_type", "auth_permission"}
WRITES = {"insert", "update", "delete", "findAndModify"}


class WrittenCollections(monitoring.CommandListener):
    """The (database, collection) pairs written to since the last `take()`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.written = set()

    def started(self, event):
        if event.command_name in WRITES:
            with self.lock:
                self.written.add((event.database_name, event.command.get(event.command_name)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def take(self):
        with self.lock:
            written, self.written = self.written, set()
        return written


def install():
    """On MongoDB: watch every client created from now on, and clean up after each test as above."""
    if settings.DATABASES["default"]["ENGINE"] != "django_mongodb_backend":
        return
    listener = WrittenCollections()
    monitoring.register(listener)  # before the backend creates its client, when the test database is set up
    setup = TransactionTestCase._fixture_setup.__func__
    flush = TransactionTestCase._fixture_teardown

    def forget_what_came_before(cls):
        listener.take()  # migrate's writes, or a session fixture's: not the test's
        setup(cls)

    def empty_what_the_test_wrote(self):
        written = listener.take()
        for alias in self._databases_names(include_mirrors=False):
            database = connections[alias].database
            names = {name for database_name, name in written if database_name == database.name and name}
            if names & KEPT:
                flush(self)  # The test changed what migrate wrote: Django's flush writes it again.
                names -= set(connections[alias].introspection.django_table_names(only_existing=True))
            for name in sorted(names - KEPT):
                database[name].delete_many({})
        listener.take()

    TransactionTestCase._fixture_setup = classmethod(forget_what_came_before)
    TransactionTestCase._fixture_teardown = empty_what_the_test_wrote

"""Cheap cleanup between tests on MongoDB.

Django's test case cannot roll a MongoDB test back (the backend runs no test inside a transaction), so
after each test it flushes: it empties every model's collection, then runs the post-migrate handlers
that write the content types and permissions again. That costs more than most tests. Here a test
ends by emptying only the collections that hold documents (GridFS's included, which the flush never
empties), and keeps the content types and permissions migrate wrote, unless the test changed those,
in which case Django's own flush runs.

Any MongoDB gets this, the wire server of the test tier and a real one alike.
"""

from django.conf import settings
from django.db import connections
from django.test import TransactionTestCase

# Written by migrate (and its post-migrate handlers) once, and kept between tests.
KEPT = ("django_migrations", "django_content_type", "auth_permission")


def install():
    if settings.DATABASES["default"]["ENGINE"] != "django_mongodb_backend":
        return
    setup = TransactionTestCase._fixture_setup.__func__
    flush = TransactionTestCase._fixture_teardown
    baselines = {}

    def counts(alias):
        database = connections[alias].database
        return {name: database[name].estimated_document_count() for name in KEPT}

    def note_what_migrate_wrote(cls):
        for alias in cls._databases_names(include_mirrors=False):
            if alias not in baselines:
                baselines[alias] = counts(alias)
        setup(cls)

    def empty_what_the_test_wrote(self):
        for alias in self._databases_names(include_mirrors=False):
            database = connections[alias].database
            if counts(alias) != baselines[alias]:
                flush(self)  # The test changed what migrate wrote: Django's flush writes it again.
                baselines[alias] = counts(alias)
                continue
            for name in database.list_collection_names(filter={"type": "collection"}):
                if name in KEPT or name.startswith("system."):
                    continue
                collection = database[name]
                if collection.estimated_document_count():
                    collection.delete_many({})

    TransactionTestCase._fixture_setup = classmethod(note_what_migrate_wrote)
    TransactionTestCase._fixture_teardown = empty_what_the_test_wrote

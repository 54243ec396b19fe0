"""Shared fixtures: people in a real hierarchy, created through the real services.

Passwords are hashed with the fast hasher of `tests/settings.py`; every database test ends with the ledger and
unread checks of `tests/invariants.py` (`database_invariants` below).
"""

import os

import pytest

from accounts.models import User
from accounts.ranks import Rank
from accounts.services import bootstrap_directorate, enlist
from tests import mongo_cleanup
from tests.api_support import api, as_member, sign_in  # noqa: F401  (the JSON API suites' fixtures)
from tests.factories import PASSWORD
from tests.invariants import (
    assert_ledger_days_match,
    assert_ledger_invariant,
    assert_review_days_match,
    assert_unread_counts,
)


def pytest_configure(config):
    mongo_cleanup.install()  # on MongoDB only


NOT_ON_THE_WIRE_SERVER = (
    "not run: needs a MongoDB replica set (write conflicts between racing writers); the wire-compatible "
    "test server does not detect them per document. Run it with TEST_MONGO_URI on a real replica set."
)


def pytest_collection_modifyitems(config, items):
    """On the MongoDB tier's wire-compatible server, tests marked `replica_set` are reported as not run."""
    if os.environ.get("MONGO_WIRE_SERVER") != "mongoeco":
        return
    for item in items:
        if item.get_closest_marker("replica_set"):
            item.add_marker(pytest.mark.skip(reason=NOT_ON_THE_WIRE_SERVER))


@pytest.fixture
def whole_schema_after():
    """For a test that migrates the database back: every app is migrated forward to its latest migration
    afterwards, so that the tests after it (a transactional test keeps the database) find the whole schema."""
    yield
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def make_member(db):
    """Enlist a member through the service, able to sign in with PASSWORD."""
    counter = iter(range(1, 10_000))

    def make(rank, reports_to, username=None, display_name=None):
        number = next(counter)
        return enlist(
            username=username or f"{Rank(rank).value}.{number}",
            display_name=display_name or f"Member {number}",
            rank=rank,
            reports_to=reports_to,
            password=PASSWORD,
        )

    return make


@pytest.fixture(autouse=True)
def attachments_folder(settings, tmp_path):
    """Each test keeps attachments in a folder of its own, never in the var folder (on MongoDB too: the
    wire-compatible test server can lose a transaction's writes when GridFS writes beside it, see
    tests/mongo_wire.py; GridFS itself is tested in test_atomic_units.py)."""
    folder = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}},
    }
    return folder


@pytest.fixture
def as_(client):
    """`as_(person)`: the test client, signed in as `person`."""

    def signed_in(person):
        client.logout()
        client.force_login(person)
        return client

    return signed_in


@pytest.fixture
def directorate(db):
    """Niki and Nyx, as bootstrap creates them."""
    bootstrap_directorate(niki_password=PASSWORD)
    return {
        "niki": User.objects.get(rank=Rank.NIKI),
        "nyx": User.objects.get(rank=Rank.NYX),
    }


@pytest.fixture
def org(directorate, make_member):
    """A small organisation with two branches, so every relation can be found:

    niki > nyx > executor > marshal > shadow > asset, asset_2
                          > marshal_2 > shadow_2 > asset_3
               > executor_2 > marshal_3
    """
    people = dict(directorate)
    people["executor"] = make_member(Rank.EXECUTOR, people["nyx"], "executor.one")
    people["executor_2"] = make_member(Rank.EXECUTOR, people["nyx"], "executor.two")
    people["marshal"] = make_member(Rank.MARSHAL, people["executor"], "marshal.one")
    people["marshal_2"] = make_member(Rank.MARSHAL, people["executor"], "marshal.two")
    people["marshal_3"] = make_member(Rank.MARSHAL, people["executor_2"], "marshal.three")
    people["shadow"] = make_member(Rank.SHADOW, people["marshal"], "shadow.one")
    people["shadow_2"] = make_member(Rank.SHADOW, people["marshal_2"], "shadow.two")
    people["asset"] = make_member(Rank.ASSET, people["shadow"], "asset.one")
    people["asset_2"] = make_member(Rank.ASSET, people["shadow"], "asset.two")
    people["asset_3"] = make_member(Rank.ASSET, people["shadow_2"], "asset.three")
    return people


@pytest.fixture(autouse=True)
def database_invariants(request):
    """After every test that used the database: every member's credits and balance equal the sums of their
    ledger entries (docs/rules.md, "Payment"), the daily ledger totals equal the ledger, the daily review totals
    equal the closed tickets and every unread count matches the notifications.

    The database is asked for here, so that it is set up before and torn down after these checks; a test
    that never used the database is left alone."""
    uses_database = "_django_db_helper" in request.fixturenames or request.node.get_closest_marker("django_db")
    if not uses_database or request.node.get_closest_marker("browser"):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    assert_ledger_invariant()
    assert_ledger_days_match()
    assert_review_days_match()
    assert_unread_counts()

"""MongoDB smoke suite over mongomock: proves queries compile for MongoDB; no substitute for a real server
(set TEST_MONGO_URI for that).

Django runs here with the MongoDB backend (`django-mongodb-backend`), whose pymongo
client is replaced by mongomock's (see `mongomock_client.py`). Every query our services
and selectors make is compiled by the backend into MongoDB's query language, so an ORM
feature MongoDB cannot run fails here; mongomock then evaluates the query in memory so
the tests can check real results. Where mongomock cannot evaluate an operator the
backend emits, the test compiles that query only, and says so.

Run it on its own, from the project folder:
    .venv/bin/python -m pytest -p no:cacheprovider tests_mongo_smoke
The `pytest.ini` beside this file selects `tests_mongo_smoke.settings`, which switches
the MongoDB branch of the project settings on before pytest-django loads them (it
loads settings before it imports any conftest, so this file would be too late).
The whole suite, on a real MongoDB: `TEST_MONGO_URI=mongodb://... make test`.
"""

from unittest import mock

import mongomock.gridfs
import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db.models.signals import post_migrate
from django.utils.module_loading import import_string
from django_mongodb_backend.query import MongoQuery

from tests_mongo_smoke import mongomock_client

LABEL = (
    "MongoDB smoke suite over mongomock: proves queries compile for MongoDB; "
    "no substitute for a real server (set TEST_MONGO_URI for that)"
)
PASSWORD = "correct-horse-battery-staple"
QUICK_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"

if settings.DATABASES["default"]["ENGINE"] != "django_mongodb_backend":
    raise pytest.UsageError(
        "The MongoDB smoke suite must run on its own (`python -m pytest tests_mongo_smoke`), so that its "
        "pytest.ini selects tests_mongo_smoke.settings; here Django was configured with "
        f"{settings.SETTINGS_MODULE} on {settings.DATABASES['default']['ENGINE']}. "
        "A DJANGO_SETTINGS_MODULE in the environment or --ds overrides the ini."
    )

# Replace the backend's pymongo client with mongomock's before anything connects
# (pytest-django connects when it creates the test database, after this import).
_monkeypatch = pytest.MonkeyPatch()
mongomock_client.install(_monkeypatch)
# Let pymongo's GridFS (the attachments storage) accept mongomock's databases: mongomock's own switch,
# which widens gridfs's isinstance checks. Undone with every started mock patch at the end.
mongomock.gridfs.enable_gridfs_integration()

# mongomock gap: Django's post_migrate handler `create_permissions` reads Permission rows with
# a join to ContentType, which the backend emits as `$lookup` with a `pipeline`, a form mongomock
# does not implement ("'pipeline' is a valid lookup operator ... not implemented in Mongomock").
# Our user model has no permissions (no PermissionsMixin, no admin), so the smoke database goes
# without Permission rows; test_compile_only.py compiles that query instead.
post_migrate.disconnect(dispatch_uid="django.contrib.auth.management.create_permissions")


def pytest_report_header(config):
    return [LABEL]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(LABEL)


def pytest_unconfigure(config):
    _monkeypatch.undo()
    mock.patch.stopall()


@pytest.fixture(autouse=True)
def _mongodb_backend(db):
    """Every smoke test uses the database, and must be on the MongoDB backend over mongomock."""
    from django.db import connection

    assert connection.vendor == "mongodb"
    assert isinstance(connection.connection, mongomock_client.SmokeMongoClient)


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    """MD5 first: this suite checks the database, not password hashing, and bcrypt costs seconds here.
    bcrypt stays on the list, so any bcrypt hash still verifies."""
    settings.PASSWORD_HASHERS = [QUICK_HASHER, *settings.PASSWORD_HASHERS]


@pytest.fixture(scope="session")
def password_hash():
    """One hash of PASSWORD, shared so each member does not pay for hashing again."""
    return make_password(PASSWORD, hasher=import_string(QUICK_HASHER)())


@pytest.fixture
def directorate():
    """Niki and Nyx, created by the real bootstrap service."""
    from accounts.models import User
    from accounts.ranks import Rank
    from accounts.services import bootstrap_directorate

    assert bootstrap_directorate(niki_password=PASSWORD) == PASSWORD
    return {"niki": User.objects.get(rank=Rank.NIKI), "nyx": User.objects.get(rank=Rank.NYX)}


@pytest.fixture
def make_member(password_hash):
    """Enlist a member through the real service, able to sign in with PASSWORD."""
    from accounts.models import User
    from accounts.services import enlist

    def make(rank, reports_to, username, display_name=None):
        member = enlist(
            username=username, display_name=display_name or username.replace(".", " ").title(), rank=rank,
            reports_to=reports_to,
        )
        assert User.objects.filter(id=member.id).update(password=password_hash) == 1
        member.password = password_hash
        return member

    return make


@pytest.fixture
def org(directorate, make_member):
    """niki > nyx > executor > marshal > shadow > asset, asset_2
                              > marshal_2 > shadow_2 > asset_3
                   > executor_2 > marshal_3
    """
    from accounts.ranks import Rank

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


class Unsent(Exception):
    """Raised in place of sending a compiled read to mongomock (see `compile_only`)."""


def compile_only(run, collection=None):
    """Call `run` until a read is compiled; return (collection, pipeline) of that read, unsent.

    For queries whose pipeline mongomock cannot evaluate: the backend still compiles them in
    full (an ORM feature MongoDB cannot run fails there), but the pipeline stops short of mongomock.
    With `collection`, reads of other collections before it run for real.
    """
    sent = []
    send = MongoQuery.get_cursor

    def capture(query):
        if collection is not None and query.compiler.collection_name != collection:
            return send(query)
        sent.append((query.compiler.collection_name, query.get_pipeline()))
        raise Unsent

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MongoQuery, "get_cursor", capture)
        with pytest.raises(Unsent):
            run()
    return sent[0]


def stages(pipeline, name):
    """The arguments of every `name` stage (e.g. "$lookup") of `pipeline`, in order."""
    return [stage[name] for stage in pipeline if name in stage]

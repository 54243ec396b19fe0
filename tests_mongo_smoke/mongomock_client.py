"""mongomock's client, in the place of the pymongo client that django-mongodb-backend builds.

Only the third-party client is replaced; our own code runs unchanged. mongomock
lacks a few things the backend calls, so this module adds the smallest shims
for them, each documented where it is defined:

- `start_session()`: mongomock has no sessions or transactions.
- `Database.list_collections()`: mongomock has only `list_collection_names()`.
- `Collection.options()`: missing in mongomock; the backend's flush (run after each test) reads it.
- `Collection.create_indexes()`: mongomock's drops each index's `partialFilterExpression`,
  which the backend's unique constraints rely on (nullable and conditional ones).
- `Collection.insert_many()`: mongomock words a duplicate key differently from MongoDB, and
  the backend recognises one (to raise IntegrityError) by MongoDB's wording.
- the server version: mongomock reports 5.0, the backend refuses anything below 7.0.
- `MongoClient._options.auto_encryption_opts`: the backend reads pymongo's client options to
  know whether Queryable Encryption is on (for counts, among others); here it is off.
- `base.Collection`: the backend builds pymongo `Collection` objects around its
  database; over mongomock they must be mongomock's collections.

What this cannot give: transactions (a failing atomic unit is not rolled back, and
no two units ever conflict), several operators the backend emits (`$lookup` with a
`pipeline`, i.e. every join; the `$type` expression, `$unionWith` and `$documents`,
which end every `count()`; arithmetic and comparison on Decimal128), and the query
planner and server-side validation of a real MongoDB. Hence "no substitute for a
real server"; test_compile_only.py lists the queries this leaves compiled, not run.
"""

from types import SimpleNamespace

import mongomock
from mongomock.collection import Collection as MongomockCollection
from mongomock.database import Database as MongomockDatabase
from mongomock.store import ServerStore
from pymongo.errors import BulkWriteError

# The oldest MongoDB the backend accepts (DatabaseFeatures.minimum_database_version).
# Only the number mongomock reports changes, not how mongomock behaves.
ANNOUNCED_SERVER_VERSION = "7.0.0"

# One in-memory "server" for every client the backend builds, as one mongod would be:
# the backend closes and rebuilds its client when it creates the test database.
SERVER = ServerStore()

MONGOMOCK_DUPLICATE_KEY = "E11000 Duplicate Key Error"
SERVER_DUPLICATE_KEY = "E11000 duplicate key error"


class NoTransactionSession:
    """The smallest stand-in for pymongo's `ClientSession`, because mongomock has none.

    The backend's `atomic()` starts a session and a transaction, passes the session to
    every read and write (`session=...`), and commits or aborts at the end. mongomock's
    collections refuse any truthy `session` argument, so this object is falsy: mongomock
    then runs each operation on its own, and the backend, which only commits or ends a
    truthy session, keeps it and runs the `on_commit` callbacks when the outermost
    unit exits. Nothing is rolled back when a unit fails.
    """

    def __bool__(self):
        return False

    def start_transaction(self, *args, **kwargs):
        pass

    def commit_transaction(self):
        pass

    def abort_transaction(self):
        pass

    def end_session(self):
        pass


class SmokeCollection(MongomockCollection):
    def options(self, session=None, comment=None):
        """Shim: mongomock lacks `options()`; the backend's `execute_sql_flush()` (run after each
        test) reads it to leave capped collections alone. mongomock creates no capped collections."""
        return {}

    def create_indexes(self, indexes, session=None):
        """Shim: mongomock's `create_indexes()` forwards only some options of each `IndexModel` and
        drops `partialFilterExpression`, which its own `create_index()` honours. The backend builds
        every unique constraint as a partial index (so that nulls, or rows outside a constraint's
        condition, do not collide); without the filter mongomock would refuse legitimate rows."""
        names = []
        for index in indexes:
            options = dict(index.document)
            keys = options.pop("key")
            names.append(self.create_index(list(keys.items()), session=session, **options))
        return names

    def insert_many(self, documents, *args, **kwargs):
        """Shim: MongoDB reports a duplicate key in a batch as "E11000 duplicate key error ...", and the
        backend turns a BulkWriteError into IntegrityError only on that text; mongomock writes
        "E11000 Duplicate Key Error". The error is raised again with the server's wording."""
        try:
            return super().insert_many(documents, *args, **kwargs)
        except BulkWriteError as error:
            details = error.details
            for write_error in details.get("writeErrors", []):
                write_error["errmsg"] = write_error["errmsg"].replace(MONGOMOCK_DUPLICATE_KEY, SERVER_DUPLICATE_KEY)
            raise BulkWriteError(details) from None


class SmokeDatabase(MongomockDatabase):
    def get_collection(self, name, **kwargs):
        """mongomock's own `get_collection`, building `SmokeCollection`s."""
        if name not in self._collection_accesses:
            self._ensure_valid_collection_name(name)
            self._collection_accesses[name] = SmokeCollection(
                self, name=name, _db_store=self._store, read_preference=self.read_preference,
                codec_options=self.codec_options,
            )
        return super().get_collection(name, **kwargs)

    def list_collections(self, filter=None, session=None, nameOnly=False):
        """Shim: mongomock has only `list_collection_names()`; the backend's introspection
        (`table_names()`, used by migrate and test-database creation) reads `list_collections()`."""
        return iter([{"name": name, "type": "collection"} for name in self.list_collection_names(filter)])


class SmokeMongoClient(mongomock.MongoClient):
    def __init__(self, host=None, **kwargs):
        kwargs.pop("driver", None)  # pymongo's DriverInfo, meaningless to mongomock
        super().__init__(host, _store=SERVER, **kwargs)
        self._server_version = ANNOUNCED_SERVER_VERSION
        # Shim: pymongo's client options, of which the backend reads only this one (no encryption).
        # Without it, mongomock's attribute lookup would answer with a database named "_options".
        self._options = SimpleNamespace(auto_encryption_opts=None)

    def start_session(self, causal_consistency=None, default_transaction_options=None, **kwargs):
        return NoTransactionSession()

    def get_database(self, name=None, codec_options=None, read_preference=None, write_concern=None,
                     read_concern=None):
        """mongomock's own `get_database`, building `SmokeDatabase`s."""
        if name is None:
            return self.get_default_database(
                codec_options=codec_options, read_preference=read_preference,
                write_concern=write_concern, read_concern=read_concern,
            )
        database = self._database_accesses.get(name)
        if database is None:
            database = self._database_accesses[name] = SmokeDatabase(
                self, name, _store=self._store[name], read_preference=read_preference or self.read_preference,
                codec_options=codec_options or self.codec_options, read_concern=read_concern,
            )
        return database


def mongomock_collection(database, name, **kwargs):
    """Stands in for `pymongo.collection.Collection(database, name)` in the backend's `get_collection()`."""
    return database.get_collection(name, **kwargs)


def install(monkeypatch):
    """Make django-mongodb-backend build mongomock clients and collections instead of pymongo's."""
    from django_mongodb_backend import base

    monkeypatch.setattr(base, "MongoClient", SmokeMongoClient)
    monkeypatch.setattr(base, "Collection", mongomock_collection)

"""Database helpers shared by every app, portable between SQLite and MongoDB."""

import functools
import logging
import random
import secrets
import time
from contextlib import suppress

from bson import ObjectId
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone

from directorate.errors import Conflict

logger = logging.getLogger(__name__)


def new_object_id():
    return str(ObjectId())


def unlinkable_object_id():
    """An ObjectId of twelve random bytes: nothing in it (time, process, counter) relates it to any other id.

    `new_object_id()` ids made by one process share its random part and count up, so an id made just
    before or after a visible one can be computed from it. Used for the Controller, who must stay hidden.
    """
    return str(ObjectId(secrets.token_bytes(12)))


def now():
    """The current time, truncated to the millisecond as MongoDB stores it."""
    moment = timezone.now()
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def first_of(queryset):
    """The first row of an unordered `queryset` (one that names a row by a unique key), or None. Unlike
    `.first()`, it does not order by the primary key: with related rows selected, compiling that ordering
    cost more than the read itself (1.1 ms against 0.6 ms for a ticket with its people)."""
    return next(iter(queryset[:1]), None)


def is_mongodb():
    return connection.vendor == "mongodb"


def atomic():
    """One atomic unit on either database.

    MongoDB needs the backend's own transaction API (and a transaction-capable server);
    everything else uses Django's. Either way:
    - a unit that fails, in its body or when it commits, runs its `on_rollback` callbacks (files
      written during the unit are removed again);
    - an error raised when the outermost unit commits is a Conflict (409), never a raw driver error;
    - on MongoDB, a write conflict (a lost write race) is a `TransientConflict`, which
      `@retry_on_write_conflict` answers by running the whole service again.
    """
    return _Unit()


# MongoDB's error code for a write conflict between transactions.
WRITE_CONFLICT = 112
# How often, and for how long at most, a service that lost a write race runs again (like the drivers'
# `with_transaction`, which retries a unit labelled TransientTransactionError for up to 120 s; our units
# are small, so a few attempts within a few seconds are plenty).
RETRY_ATTEMPTS = 8
RETRY_SECONDS = 5.0


class TransientConflict(Conflict):
    """A write conflict between transactions: safe to run the unit again from its start."""


def is_write_conflict(error):
    from pymongo.errors import PyMongoError

    return isinstance(error, PyMongoError) and (
        error.has_error_label("TransientTransactionError") or getattr(error, "code", None) == WRITE_CONFLICT
    )


def _units():
    """The stack of our open units on this thread's connection (rollback callbacks of each)."""
    try:
        return connection._directorate_units
    except AttributeError:
        connection._directorate_units = []
        return connection._directorate_units


class _Unit:
    def __enter__(self):
        self.database = _mongodb_unit() if is_mongodb() else transaction.atomic()
        self.database.__enter__()
        self.rollback_callbacks = []
        self.batches = {}  # after_commit_batched: flush -> items collected in this unit
        self.last_writes = {}  # before_commit_batched: the same, written by the outermost unit before it commits
        _units().append(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        units = _units()
        if exc_type is None and len(units) == 1 and self.last_writes:
            # The outermost unit's last writes, inside it: a failing one fails the whole unit.
            try:
                for flush, items in self.last_writes.items():
                    flush(items)
            except BaseException as error:
                self.__exit__(type(error), error, error.__traceback__)
                raise
        units.pop()
        outermost = not units
        if exc_type is not None:
            self._fail()
            if self.database.__exit__(exc_type, exc_value, traceback):
                return True
            if is_mongodb() and _is_conflict_from_driver(exc_value):
                raise TransientConflict("This changed meanwhile; reload it and try again.") from exc_value
            return False
        try:
            self.database.__exit__(None, None, None)
        except Exception as error:
            self._fail()
            if not outermost:
                raise
            if is_mongodb() and _is_conflict_from_driver(error):
                raise TransientConflict("This changed meanwhile; reload it and try again.") from error
            from pymongo.errors import PyMongoError

            if isinstance(error, (DatabaseError, PyMongoError)) and not isinstance(error, IntegrityError):
                raise Conflict("This could not be saved just now; reload it and try again.") from error
            raise
        if not outermost:
            units[-1].rollback_callbacks.extend(self.rollback_callbacks)
            for flush, items in self.batches.items():
                units[-1].batches.setdefault(flush, []).extend(items)
            for flush, items in self.last_writes.items():
                units[-1].last_writes.setdefault(flush, []).extend(items)
        else:
            for flush, items in self.batches.items():
                on_commit(functools.partial(flush, items), robust=True)
        return False

    def _fail(self):
        self.batches = {}
        self.last_writes = {}
        callbacks, self.rollback_callbacks = self.rollback_callbacks, []
        for callback in reversed(callbacks):
            try:
                callback()
            except Exception:
                logger.exception("A rollback callback failed")


def _is_conflict_from_driver(error):
    if isinstance(error, TransientConflict):
        return False  # already answered by an inner unit
    if isinstance(error, DatabaseError) and not isinstance(error, IntegrityError):
        return is_write_conflict(error.__cause__)
    return is_write_conflict(error)


class _mongodb_unit:
    """The backend's atomic unit, cleaned up when its commit fails.

    The backend commits in `atomic()`'s exit and only expects Django's errors there, but the driver's
    commit raises its own: the session and the callbacks waiting for the commit would stay behind.
    """

    def __enter__(self):
        from django_mongodb_backend.transaction import atomic as mongo_atomic

        self.unit = mongo_atomic()
        self.unit.__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        from pymongo.errors import PyMongoError

        try:
            return self.unit.__exit__(exc_type, exc_value, traceback)
        except PyMongoError:
            connection.run_on_commit = []
            session, connection.session = connection.session, None
            if session is not None:
                with suppress(PyMongoError):
                    session.abort_transaction()
                session.end_session()
            raise


def retry_on_write_conflict(service):
    """Run `service` again when its unit lost a write race (a TransientConflict), as MongoDB's drivers do
    for a transaction labelled TransientTransactionError: bounded by RETRY_ATTEMPTS and RETRY_SECONDS,
    and only where no unit is open around the call (inside one, the outer caller's unit is what must run
    again). The last conflict is the caller's 409."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        if _units():
            return service(*args, **kwargs)
        deadline = time.monotonic() + RETRY_SECONDS
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return service(*args, **kwargs)
            except TransientConflict:
                if attempt == RETRY_ATTEMPTS or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0, 0.005 * 2**attempt))

    return run


def after_commit_batched(flush, item):
    """Run `flush([item, ...])` once the outermost open unit commits, with every item given during the unit
    (nested units included, in order; none from a unit that failed). Outside a unit, `flush([item])` after
    commit. For side effects that cost less written together, such as the live events of one decision."""
    units = _units()
    if units:
        units[-1].batches.setdefault(flush, []).append(item)
    else:
        on_commit(functools.partial(flush, [item]), robust=True)


def in_unit():
    """Whether an atomic unit of ours is open on this thread's connection."""
    return bool(_units())


def before_commit_batched(flush, item):
    """Run `flush([item, ...])` inside the outermost open unit, just before it commits, with every item given
    during the unit (nested units included, in order; none from a unit that failed); what it writes commits or
    fails with the unit. Only inside a unit (`in_unit()`)."""
    units = _units()
    if not units:
        raise RuntimeError("before_commit_batched() needs an open unit.")
    units[-1].last_writes.setdefault(flush, []).append(item)


def on_rollback(callback):
    """Run `callback` if the innermost open unit fails (in its body or at its commit); outside a unit,
    never. For what the database cannot undo, such as a file written during the unit."""
    units = _units()
    if units:
        units[-1].rollback_callbacks.append(callback)


def on_commit(callback, *, robust=False):
    """Run `callback` once the surrounding atomic unit commits (at once outside one).

    `robust=True` logs a failing callback instead of raising: for side effects such as
    live events, whose failure must not turn a committed write into an error.
    """
    transaction.on_commit(callback, robust=robust)


def add_to_row(model, key: dict, fields: dict | None = None, **amounts) -> None:
    """Add `amounts` to the row of `key` with F() increments; a missing row is created (with `fields`) under
    the model's unique constraint on `key`, and a writer that loses that race adds to the winner's row. The
    way every kept total (the daily ledger totals, the daily review totals) is written, on SQLite and MongoDB
    alike; call inside the caller's atomic unit."""
    row = model.objects.filter(**key)
    # Only the amounts that change the row are written: compiling an increment costs more than running it. An
    # all-zero addition still finds or creates the row.
    increments = {name: models.F(name) + value for name, value in amounts.items() if value} or {
        name: models.F(name) for name in amounts
    }
    if row.update(**increments):
        return
    try:
        with atomic():
            model.objects.create(**key, **(fields or {}), **amounts)
    except IntegrityError:
        # Another unit created the row since the update above found none: add to theirs.
        if row.update(**increments) != 1:
            raise


def add_to_rows_in_bulk(
    model, sums: dict, *, key: tuple[str, ...], amounts: tuple[str, ...], among, fields=None
) -> None:
    """`add_to_row` for many keys in a few queries, for a bulk loader that has the database to itself (it reads
    the rows, then writes them back): `sums` maps each key (values of the fields named `key`) to the amounts to
    add (in the order of `amounts`); `among` is a query holding every row of those keys that exists already;
    `fields(key)`, if given, the other fields of a row created."""
    existing = {tuple(getattr(row, name) for name in key): row for row in among}
    changed, new = [], []
    for values, added in sums.items():
        row = existing.get(values)
        if row is None:
            new.append(
                model(
                    **dict(zip(key, values, strict=True)),
                    **(fields(values) if fields else {}),
                    **dict(zip(amounts, added, strict=True)),
                )
            )
        else:
            for name, amount in zip(amounts, added, strict=True):
                setattr(row, name, getattr(row, name) + amount)
            changed.append(row)
    model.objects.bulk_create(new, batch_size=1000)
    model.objects.bulk_update(changed, list(amounts), batch_size=500)


class ObjectIdModel(models.Model):
    """Abstract base: a 24-hex ObjectId string key, stored as MongoDB's own `_id`."""

    id = models.CharField(primary_key=True, max_length=24, db_column="_id", default=new_object_id, editable=False)

    class Meta:
        abstract = True


class TimestampedModel(ObjectIdModel):
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            self.updated_at = now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}
        super().save(*args, **kwargs)

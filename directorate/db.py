"""Database helpers shared by every app, portable between SQLite and MongoDB."""

import secrets
from contextlib import contextmanager

from bson import ObjectId
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone

from directorate.errors import Conflict


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


def is_mongodb():
    return connection.vendor == "mongodb"


def atomic():
    """One atomic unit on either database.

    MongoDB needs the backend's own transaction API (and a replica set);
    everything else uses Django's.
    """
    if is_mongodb():
        return _mongodb_atomic()
    return transaction.atomic()


# MongoDB's error code for a write conflict between transactions.
WRITE_CONFLICT = 112


@contextmanager
def _mongodb_atomic():
    """The backend's atomic unit, with a lost write race refused as a Conflict.

    Where SQL makes a second conditional update wait and then match nothing (the count
    the services check), MongoDB fails the second transaction at once with a write
    conflict. Both mean "someone else changed this meanwhile", and both get the same answer.
    """
    from django_mongodb_backend.transaction import atomic as mongo_atomic

    try:
        with mongo_atomic():
            yield
    except DatabaseError as error:
        if isinstance(error, IntegrityError) or not is_write_conflict(error.__cause__):
            raise
        raise Conflict("This changed meanwhile; reload it and try again.") from error


def is_write_conflict(error):
    from pymongo.errors import PyMongoError

    return isinstance(error, PyMongoError) and (
        error.has_error_label("TransientTransactionError") or getattr(error, "code", None) == WRITE_CONFLICT
    )


def on_commit(callback, *, robust=False):
    """Run `callback` once the surrounding atomic unit commits (at once outside one).

    `robust=True` logs a failing callback instead of raising: for side effects such as
    live events, whose failure must not turn a committed write into an error.
    """
    transaction.on_commit(callback, robust=robust)


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

"""Database helpers shared by every app, portable between SQLite and MongoDB."""

from bson import ObjectId
from django.db import connection, models, transaction
from django.utils import timezone


def new_object_id():
    return str(ObjectId())


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
        from django_mongodb_backend.transaction import atomic as mongo_atomic

        return mongo_atomic()
    return transaction.atomic()


def on_commit(callback):
    """Run `callback` once the surrounding atomic unit commits (at once outside one)."""
    transaction.on_commit(callback)


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

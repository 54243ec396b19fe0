"""Where attachments' bytes are kept: on disk under VAR_DIR by default, in MongoDB's GridFS with MONGO_URI.

Both are Django storages named "attachments" in settings.STORAGES. Neither has URLs: files are only ever
sent by the download view, after the visibility check.
"""

import gridfs
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import connections


def attachment_storage():
    return storages["attachments"]


class GridFSStorage(Storage):
    """Files in a GridFS bucket of the project's own MongoDB database, keyed by their storage name.

    The database is the pymongo `Database` that django-mongodb-backend's connection holds (the same object
    its schema editor and introspection use), so GridFS shares the backend's client, pool and settings.
    Writes happen outside the database transaction, like a file written to disk; the attachment services
    remove a file again when the unit that stored it fails (directorate.db.on_rollback).
    """

    def __init__(self, collection="attachment_files", using="default"):
        self.collection = collection
        self.using = using

    def _bucket(self):
        return gridfs.GridFS(connections[self.using].database, collection=self.collection)

    def _save(self, name, content):
        content.seek(0)
        self._bucket().put(content, _id=name, filename=name)
        return name

    def _open(self, name, mode="rb"):
        try:
            return File(self._bucket().get(name), name=name)
        except gridfs.NoFile:
            raise FileNotFoundError(name) from None

    def exists(self, name):
        return self._bucket().exists(name)

    def delete(self, name):
        self._bucket().delete(name)

    def size(self, name):
        return self._open(name).file.length

    def url(self, name):
        raise NotImplementedError("Attachments are sent only by the download view.")

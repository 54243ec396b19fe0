"""The attachment files the storage holds, wherever it keeps them: a folder, or GridFS on MongoDB."""

from pathlib import Path

from django.db import connections

from attachments.storage import GridFSStorage, attachment_storage


def stored_files():
    """The names of the stored files, sorted."""
    storage = attachment_storage()
    if isinstance(storage, GridFSStorage):
        files = connections[storage.using].database[f"{storage.collection}.files"]
        return sorted(str(document["_id"]) for document in files.find({}, {"_id": 1}))
    folder = Path(storage.location)
    return sorted(path.name for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def stored_bytes(name):
    with attachment_storage().open(name) as stored:
        return stored.read()

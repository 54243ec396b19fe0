"""Attachments on the MongoDB backend: the bytes in GridFS, the rows and their unique places, and the
reads that join the uploader (compiled; mongomock cannot run joins, see test_compile_only.py)."""

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError

from attachments import selectors
from attachments.models import Attachment
from attachments.storage import GridFSStorage, attachment_storage
from directorate.db import atomic, new_object_id
from tests_mongo_smoke.conftest import compile_only, stages
from tests_mongo_smoke.test_compile_only import LOOKUP_WITH_PIPELINE, mongomock_refuses
from tickets.services import create_ticket

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1200  # over one GridFS chunk (255 kB)


@pytest.fixture
def ticket(org):
    return create_ticket(
        actor=org["marshal"], assignee_id=org["shadow"].id, category="Intel", sub_category="Recon Report",
        title="Photograph the archive",
    )


def attachment(ticket, uploader, position, **fields):
    return Attachment(
        ticket=ticket, uploader=uploader, position=position, filename="archive.png", content_type="image/png",
        size=len(PNG), sha256="0" * 64, storage_name=new_object_id(), **fields,
    )


def test_the_attachments_storage_is_gridfs_and_keeps_the_bytes(db):
    storage = attachment_storage()
    assert isinstance(storage, GridFSStorage)
    name = new_object_id()
    assert storage.save(name, ContentFile(PNG)) == name
    assert storage.exists(name) and storage.size(name) == len(PNG)
    with storage.open(name) as handle:
        assert handle.read() == PNG
    storage.delete(name)
    assert not storage.exists(name)
    with pytest.raises(FileNotFoundError):
        storage.open(name)


def test_one_attachment_per_place_on_a_ticket(org, ticket):
    attachment(ticket, org["shadow"], 1).save(force_insert=True)
    with pytest.raises(IntegrityError), atomic():
        attachment(ticket, org["marshal"], 1).save(force_insert=True)
    attachment(ticket, org["marshal"], 2).save(force_insert=True)
    # The services' next place: the highest taken, plus one.
    last = Attachment.objects.filter(ticket_id=ticket.id).order_by("-position").values_list("position", flat=True)
    assert last.first() == 2


def test_attachments_of_a_ticket_join_the_uploader(org, ticket):
    attachment(ticket, org["shadow"], 1).save(force_insert=True)
    collection, pipeline = compile_only(lambda: selectors.attachments_of(ticket))
    assert collection == "attachments_attachment"
    (lookup,) = stages(pipeline, "$lookup")
    assert (lookup["from"], lookup["localField"]) == ("accounts_user", "uploader_id")
    assert stages(pipeline, "$sort") == [{"position": 1}]
    mongomock_refuses(lambda: selectors.attachments_of(ticket), LOOKUP_WITH_PIPELINE)


def test_attachment_for_reads_the_row_then_the_ticket_as_its_reader_sees_it(org, ticket):
    stored = attachment(ticket, org["shadow"], 1)
    stored.save(force_insert=True)
    # The attachment is read for real (a plain query); the ticket read is ticket_for's, with its joins.
    collection, _pipeline = compile_only(
        lambda: selectors.attachment_for(org["marshal"], stored.id), collection="tickets_ticket"
    )
    assert collection == "tickets_ticket"
    assert Attachment.objects.filter(id=stored.id).first() == stored

"""The atomic unit (directorate.db.atomic) when the database does not simply say yes, on SQLite and MongoDB alike:
a lost write race runs the service again, an error at commit is a 409 that leaves nothing behind (no row, no
file), and attachments live where the database's storage keeps them (GridFS on MongoDB).

These tests commit for real (`transaction=True`): on SQLite a test is otherwise one transaction that never
commits. A commit that fails is the database driver's (pymongo's, or Django's SQLite wrapper's) commit
raising an error, as a server that fails at that moment makes it do; our code is never replaced.
"""

import contextlib
import threading

import pymongo.synchronous.client_session
import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection, connections
from django.db.models.signals import post_save
from pymongo.errors import OperationFailure

from accounts.models import User
from attachments import services as attachments
from attachments.models import Attachment
from attachments.storage import GridFSStorage, attachment_storage
from directorate.db import RETRY_ATTEMPTS, after_commit_batched, atomic, is_mongodb
from directorate.errors import Conflict
from economy import services as economy
from economy.models import Transaction
from tests.api_support import assert_error
from tests.invariants import assert_ledger_invariant, database_state
from tests.stored_files import stored_files
from tickets import services as tickets
from tickets.models import ApprovalStep

pytestmark = pytest.mark.django_db(transaction=True)

# The API suites' fixtures, imported so that pytest finds them here.

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture
def gridfs_on_mongodb(settings, attachments_folder):
    """The project's own attachments storage: GridFS on MongoDB (over the backend's connection), the test's
    folder on SQLite."""
    if is_mongodb():
        settings.STORAGES = {**settings.STORAGES, "attachments": {"BACKEND": "attachments.storage.GridFSStorage"}}


@contextlib.contextmanager
def the_next_commit_fails(*, write_conflict=False, times=1):
    """The database driver's next `times` commits raise, without committing; later ones work again.

    With `write_conflict`, the error is MongoDB's WriteConflict labelled TransientTransactionError (on SQLite,
    which has no such error, commits are then left alone); otherwise a plain server error."""
    failures = []
    if is_mongodb():
        session_class = pymongo.synchronous.client_session.ClientSession
        commit = session_class.commit_transaction

        def failing_commit(session):
            if len(failures) < times:
                failures.append(session)
                if write_conflict:
                    raise OperationFailure(
                        "WriteConflict",
                        code=112,
                        details={
                            "ok": 0,
                            "errmsg": "WriteConflict",
                            "code": 112,
                            "codeName": "WriteConflict",
                            "errorLabels": ["TransientTransactionError"],
                        },
                    )
                raise OperationFailure("operation exceeded time limit", code=50)  # MaxTimeMSExpired
            return commit(session)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(session_class, "commit_transaction", failing_commit)
            yield failures
        return
    if write_conflict:
        yield failures
        return
    wrapper = connections["default"]
    commit = wrapper._commit

    def failing_sqlite_commit():
        if len(failures) < times:
            failures.append(wrapper)
            raise OperationalError("disk I/O error")
        return commit()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wrapper, "_commit", failing_sqlite_commit)
        yield failures


def awaiting_review(author, assignee, *, title="Observe the east depot"):
    ticket = tickets.create_ticket(
        actor=author, title=title, category="Intel", sub_category="Recon Report", assignee_id=assignee.id
    )
    tickets.start_work(actor=assignee, ticket_id=ticket.id)
    tickets.submit_for_review(actor=assignee, ticket_id=ticket.id, reward_credits=7, reward_pay="12.50")
    return ticket


def test_a_unit_refused_for_a_write_conflict_runs_again_once_and_lands(org):
    """MongoDB refuses an approval's unit with a write conflict, labelled TransientTransactionError (what a
    replica set answers when another writer changed the member's document meanwhile): the approval runs again
    from its start, as the drivers' with_transaction does, and lands once. SQLite serialises writers, so it
    never refuses a unit this way and the approval runs once."""
    asset, reviewer = org["asset"], org["marshal"]
    ticket = awaiting_review(org["shadow"], asset)
    approvals = []
    post_save.connect(
        lambda instance, **kwargs: approvals.append(instance.decision),
        sender=ApprovalStep,
        dispatch_uid="count_approvals",
        weak=False,
    )
    try:
        with the_next_commit_fails(write_conflict=True) as failures:
            tickets.approve_reward(actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
    finally:
        post_save.disconnect(sender=ApprovalStep, dispatch_uid="count_approvals")

    assert len(failures) == len(approvals) - 1 == (1 if is_mongodb() else 0)
    asset = User.objects.get(id=asset.id)
    assert (asset.credits, str(asset.balance)) == (7, "12.50")
    assert ApprovalStep.objects.filter(ticket_id=ticket.id).count() == 1
    assert Transaction.objects.filter(user_id=asset.id, related_ticket_id=ticket.id).count() == 2
    assert_ledger_invariant()


def test_a_unit_that_keeps_losing_write_races_is_a_409_after_a_bounded_number_of_attempts(org, as_member):
    marshal = as_member(org["marshal"])
    before = database_state()
    with the_next_commit_fails(write_conflict=True, times=RETRY_ATTEMPTS) as failures:
        response = marshal.patch(f"/api/users/{org['asset'].id}/adjust", {"credits": 2, "reason": "Overtime"})
    if is_mongodb():
        assert 1 < len(failures) <= RETRY_ATTEMPTS  # fewer if the time bound ran out first
        assert_error(response, 409, "conflict")
        assert database_state() == before
    else:
        assert failures == [] and response.status_code == 200


@pytest.mark.replica_set
def test_an_approval_that_loses_a_race_to_an_adjustment_of_the_same_member_runs_again_and_both_land(org):
    """While an approval's unit is open, an adjustment of the same member (in a unit of its own, in another
    thread) commits first. On a MongoDB replica set the approval then meets a write conflict at the member's
    document and runs again; on SQLite the adjustment waits for the approval. Either way both land, each
    once, in the ledger."""
    asset, reviewer = org["asset"], org["marshal"]
    ticket = awaiting_review(org["shadow"], asset)
    approvals, racers, racer_errors = [], [], []

    def adjustment():
        try:
            economy.adjust(actor=org["executor"], user_id=asset.id, credits=3, pay="4.25", reason="Overtime")
        except Exception as error:
            racer_errors.append(error)
        finally:
            connection.close()

    def race_once(sender, instance, created, **kwargs):
        approvals.append(instance.decision)
        if len(approvals) == 1:
            racer = threading.Thread(target=adjustment)
            racers.append(racer)
            racer.start()
            if is_mongodb():
                racer.join()  # it commits while the approval's unit is still open

    post_save.connect(race_once, sender=ApprovalStep, dispatch_uid="race_once")
    try:
        tickets.approve_reward(actor=reviewer, ticket_id=ticket.id, credits=7, pay="12.50")
    finally:
        post_save.disconnect(dispatch_uid="race_once")
        for racer in racers:
            racer.join()

    assert racer_errors == []
    assert len(approvals) == (2 if is_mongodb() else 1)
    asset = User.objects.get(id=asset.id)
    assert (asset.credits, str(asset.balance)) == (10, "16.75")
    assert sorted(Transaction.objects.filter(user_id=asset.id).values_list("type", flat=True)) == sorted(
        [Transaction.Type.CREDIT_AWARD, Transaction.Type.PAYMENT, Transaction.Type.MANUAL_ADJ]
    )
    assert ApprovalStep.objects.filter(ticket_id=ticket.id).count() == 1
    assert_ledger_invariant()


def test_an_error_when_a_unit_commits_is_a_409_in_the_api_shape_and_writes_nothing(org, as_member):
    marshal = as_member(org["marshal"])  # signed in (a committed unit) before the failure
    before = database_state()

    with the_next_commit_fails() as failures:
        response = marshal.patch(
            f"/api/users/{org['asset'].id}/adjust", {"credits": 2, "pay": "1.00", "reason": "Overtime"}
        )

    assert failures, "the adjustment's commit was reached"
    body = assert_error(response, 409, "conflict")
    assert "try again" in body["detail"]
    assert database_state() == before
    # Nothing was left behind on the connection: the same request, once the database answers, lands.
    again = marshal.patch(f"/api/users/{org['asset'].id}/adjust", {"credits": 2, "pay": "1.00", "reason": "Overtime"})
    assert again.status_code == 200, again.content
    asset = User.objects.get(id=org["asset"].id)
    assert (asset.credits, str(asset.balance)) == (2, "1.00")
    assert_ledger_invariant()


def test_a_file_stored_by_a_unit_that_fails_to_commit_is_removed_with_it(org, gridfs_on_mongodb):
    ticket = tickets.create_ticket(
        actor=org["marshal"],
        title="Photograph the east depot",
        category="Intel",
        sub_category="Recon Report",
        assignee_id=org["shadow"].id,
    )
    with the_next_commit_fails() as failures, pytest.raises(Conflict):
        attachments.attach_to_ticket(
            actor=org["marshal"], ticket_id=ticket.id, upload=ContentFile(PNG, name="depot.png")
        )
    assert failures
    assert not Attachment.objects.exists()
    assert stored_files() == []

    attachment = attachments.attach_to_ticket(
        actor=org["marshal"], ticket_id=ticket.id, upload=ContentFile(PNG, name="depot.png")
    )
    assert stored_files() == [attachment.storage_name]


def test_attachments_are_kept_in_gridfs_on_mongodb_and_on_disk_otherwise(gridfs_on_mongodb):
    """On MongoDB the attachments storage is GridFS, in the project's own database and over the backend's
    connection: a file is written, found, read back and deleted through it."""
    storage = attachment_storage()
    assert isinstance(storage, GridFSStorage) == is_mongodb()
    name = storage.save("0123456789abcdef01234567", ContentFile(PNG))
    assert name == "0123456789abcdef01234567"
    if is_mongodb():
        files = connections["default"].database["attachment_files.files"]
        [document] = files.find({"_id": name})
        assert (document["filename"], document["length"]) == (name, len(PNG))
    with storage.open(name) as stored:
        assert stored.read() == PNG
    assert storage.exists(name) and storage.size(name) == len(PNG) and stored_files() == [name]
    storage.delete(name)
    assert not storage.exists(name) and stored_files() == []


def test_side_effects_batched_in_a_unit_run_once_after_the_outermost_commit_without_a_failed_inner_unit(
    db, django_capture_on_commit_callbacks
):
    flushed = []
    with django_capture_on_commit_callbacks(execute=True):
        with atomic():
            after_commit_batched(flushed.append, "outer")
            with atomic():
                after_commit_batched(flushed.append, "inner")
            with contextlib.suppress(Conflict), atomic():
                after_commit_batched(flushed.append, "failed")
                raise Conflict("refused")
            after_commit_batched(flushed.append, "last")
            assert flushed == []  # nothing before the commit
    assert flushed == [["outer", "inner", "last"]]

    with contextlib.suppress(Conflict), django_capture_on_commit_callbacks(execute=True), atomic():
        after_commit_batched(flushed.append, "rolled back")
        raise Conflict("refused")
    assert flushed == [["outer", "inner", "last"]]

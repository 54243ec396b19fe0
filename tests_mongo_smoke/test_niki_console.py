"""The Controller's console over the MongoDB backend: commands are audited with their outcome and member, and
the audit log's and pickers' queries compile."""

from accounts.models import Notification
from nyx.models import AuditEntry
from nyx.selectors import audit_entries, niki_people
from nyx.services import niki_command
from tests_mongo_smoke.conftest import compile_only, stages


def test_a_broadcast_and_a_refusal_are_audited(org):
    niki, nyx = org["niki"], org["nyx"]

    done = niki_command(actor=niki, payload={"action": "broadcast", "message": "Stand by."})
    refused = niki_command(actor=niki, payload={"action": "move_member", "user_id": nyx.id, "rank": "asset"})

    assert done.done and not refused.done and refused.status == 403
    assert Notification.objects.filter(message="Command from The Directorate: Stand by.").exists()
    assert not Notification.objects.filter(user_id=niki.id).exists()
    kept = sorted(AuditEntry.objects.values_list("action", "outcome", "subject_id"))
    assert kept == [("broadcast", "done", None), ("move_member", "refused", nyx.id)]


def test_the_audit_log_and_the_people_search_compile(org):
    niki = org["niki"]
    collection, pipeline = compile_only(
        lambda: list(audit_entries(niki, action="adjust", outcome="refused", subject_id=org["asset"].id)[:50])
    )
    assert collection == "nyx_auditentry" and stages(pipeline, "$lookup")
    collection, _pipeline = compile_only(lambda: niki_people(niki, "7360"))
    assert collection == "accounts_user"

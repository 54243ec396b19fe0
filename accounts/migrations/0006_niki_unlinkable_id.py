"""Give the Controller an id unrelated to any visible id (docs/rules.md section 14).

Installations bootstrapped before this made Niki and Nyx one after the other in one process, so Niki's
ObjectId was Nyx's (public) with the counter one lower. This re-keys Niki with twelve random bytes and
moves every reference: each foreign key to a member, the materialised `chain` of every member (all start
with Niki's id) and the audit log's `target_id`. MongoDB cannot change a document's `_id`, so on both
databases the row is copied under the new id and the old one deleted. Niki's sessions and API tokens
carry the old id and stop working: Niki signs in again.
"""

import secrets

from bson import ObjectId
from django.db import migrations

NIKI = "niki"
SEPARATOR = "/"


def rekey_niki(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    niki = User.objects.filter(rank=NIKI).first()
    if niki is None:
        return
    old_id = niki.id
    new_id = str(ObjectId(secrets.token_bytes(12)))
    values = {field.attname: getattr(niki, field.attname) for field in User._meta.concrete_fields}
    # Free the unique values for the copy, then insert it under the new id.
    User.objects.filter(id=old_id).update(username=f"rekey.{old_id}", service_number=0)
    values.update(id=new_id, chain=f"{SEPARATOR}{new_id}{SEPARATOR}")
    User.objects.create(**values)

    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                model._base_manager.filter(**{field.attname: old_id}).update(**{field.attname: new_id})
    # Every chain starts with Niki's id: one update per member, as accounts.services.move_member re-roots.
    old_prefix, new_prefix = f"{SEPARATOR}{old_id}{SEPARATOR}", f"{SEPARATOR}{new_id}{SEPARATOR}"
    rows = User.objects.filter(chain__startswith=old_prefix).exclude(id=new_id).values_list("id", "chain")
    for member_id, chain in list(rows):
        User.objects.filter(id=member_id).update(chain=new_prefix + chain[len(old_prefix) :])
    AuditEntry = apps.get_model("nyx", "AuditEntry")
    AuditEntry.objects.filter(target_id=old_id).update(target_id=new_id)
    User.objects.filter(id=old_id).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_unread_notifications"),
        ("attachments", "0001_initial"),
        ("economy", "0004_ledger_time"),
        ("nyx", "0002_nyxschedule_nyxaction"),
        ("tickets", "0004_ticket_submitted_at"),
    ]

    operations = [migrations.RunPython(rekey_niki, migrations.RunPython.noop)]

"""The JSON API's manual adjustments (spec 6, docs/api.md); reading a ledger is desk/api.py."""

from ninja import Router, Status

from directorate.schemas import errors
from economy import services
from economy.schemas import AdjustIn, ReverseIn, TransactionOut, transaction_out

router = Router(tags=["ledger"])


@router.patch("/users/{user_id}/adjust", response={200: TransactionOut, **errors(400, 401, 403, 404, 409)})
def adjust(request, user_id: str, payload: AdjustIn):
    """A manual adjustment of a subordinate's credits and/or balance, with a reason (marshal and up)."""
    entry = services.adjust(
        actor=request.auth, user_id=user_id, credits=payload.credits, pay=payload.pay, reason=payload.reason
    )
    return transaction_out(entry, visible_ticket_ids=set())


@router.post(
    "/transactions/{entry_id}/reverse", response={201: list[TransactionOut], **errors(400, 401, 403, 404, 409)}
)
def reverse(request, entry_id: str, payload: ReverseIn):
    """Reverse a ticket's award (its credit award and payment together) or a manual adjustment, with a reason:
    new `reversal` entries of the opposite amounts; nothing is changed or removed. For the entry's approver or
    someone above them who may adjust the member; each entry is reversed once (a second try answers 409)."""
    reversals = services.reverse_entry(actor=request.auth, entry_id=entry_id, reason=payload.reason)
    # The ticket is named in the ledger read (GET /api/transactions), by the reader's sight.
    return Status(201, [transaction_out(entry, visible_ticket_ids=set()) for entry in reversals])

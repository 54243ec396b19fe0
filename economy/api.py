"""The JSON API's manual adjustments (spec 6, docs/api.md); reading a ledger is desk/api.py."""

from ninja import Router

from directorate.schemas import errors
from economy import services
from economy.schemas import AdjustIn, TransactionOut, transaction_out

router = Router(tags=["ledger"])


@router.patch("/users/{user_id}/adjust", response={200: TransactionOut, **errors(400, 401, 403, 404, 409)})
def adjust(request, user_id: str, payload: AdjustIn):
    """A manual adjustment of a subordinate's credits and/or balance, with a reason (marshal and up)."""
    entry = services.adjust(
        actor=request.auth, user_id=user_id, credits=payload.credits, pay=payload.pay, reason=payload.reason
    )
    return transaction_out(entry, visible_ticket_ids=set())

"""The JSON API's ledger reads (spec 6, docs/api.md): entries name only the tickets the reader sees."""

from ninja import Query, Router

from accounts.schemas import person_out
from desk import selectors as desk_selectors
from directorate.errors import NotFound
from directorate.schemas import errors, money
from economy import selectors as ledgers
from economy.schemas import LedgerOut, LedgerQuery, transaction_out

router = Router(tags=["ledger"])
LEDGER_PAGE_SIZE = 50


@router.get("/transactions", response={200: LedgerOut, **errors(400, 401, 404)})
def transactions(request, filters: Query[LedgerQuery]):
    """Your ledger, newest first; `?user=<id>` reads a subordinate's, for those who may adjust it (marshal and
    up). Anyone else's ledger is "not found"."""
    viewer = request.auth
    try:
        owner = ledgers.ledger_owner_for(viewer, filters.user)
    except NotFound:
        # One answer for a person out of sight, one you see but may not read, and an id that does not exist.
        raise NotFound("No such ledger.") from None
    (items, next_cursor), visible = desk_selectors.ledger_page(viewer, owner, filters.after, size=LEDGER_PAGE_SIZE)
    return {
        "owner": person_out(owner),
        "credits": owner.credits,
        "balance": money(owner.balance),
        "items": [transaction_out(entry, visible_ticket_ids=visible) for entry in items],
        "next_cursor": next_cursor,
    }

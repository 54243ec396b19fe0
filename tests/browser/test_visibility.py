"""What an asset may not see: Niki (service number 7360), and tickets outside their visibility.

Marshal Vance files a private ticket through the form; asset North, who reports up to Vance, gets
the same "Not found" page at its address as at an address that never existed. On none of North's
pages, searches or Niki's own routes does Niki appear.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ASSET, MARSHAL = "asset.north", "marshal.vance"
NIKI = re.compile(r"niki|7360", re.IGNORECASE)
# In the markup, only as a word of its own: ids and tokens are random letters and digits.
NIKI_WORD = re.compile(r"(?<![A-Za-z0-9_-])(niki|7360)(?![A-Za-z0-9_-])", re.IGNORECASE)


def test_an_asset_never_sees_niki_nor_a_private_ticket(new_context, console_log, sign_in):
    marshal_context = new_context()
    console_log.watch(marshal_context)
    marshal = sign_in(MARSHAL, on=marshal_context.new_page())
    title = f"Sealed orders {secrets.token_hex(3)}"
    marshal.goto("/tickets/new/")
    marshal.get_by_label("Title").fill(title)
    marshal.get_by_label("Category", exact=True).select_option("Order")
    expect(marshal.get_by_label("Sub category")).to_contain_text("Routine Directive")
    marshal.get_by_label("Sub category").select_option("Routine Directive")
    marshal.get_by_label("Address to").select_option(label="Marshal Oren Vance (marshal.vance)")
    marshal.get_by_label("Visibility").select_option("private")
    marshal.get_by_label("Details (markdown)").fill("For the marshal's eyes.")
    marshal.get_by_role("button", name="Create ticket").click()
    expect(marshal.get_by_role("heading", level=1)).to_have_text(title)
    private_url = marshal.url

    asset_context = new_context()
    console_log.watch(asset_context)
    asset = sign_in(ASSET, on=asset_context.new_page())

    # The private ticket answers exactly as an address that does not exist.
    response = asset.goto(private_url)
    assert response.status == 404
    expect(asset.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(asset.locator("main")).not_to_contain_text(title)
    missing = asset.goto("/tickets/" + "0" * 24 + "/")
    assert missing.status == 404
    expect(asset.get_by_role("heading", level=1)).to_have_text("Not found")
    asset.goto(f"/tickets/?q={title}")
    expect(asset.locator("#ticket-results")).to_contain_text("No tickets match")

    # Niki: not in any page, list or search; Niki's routes answer 404 like any unknown address.
    for path in (
        "/",
        "/tickets/",
        "/tickets/?scope=all",
        "/ledger/",
        "/inbox/",
        "/profile/",
        "/people/",
        "/people/?q=niki",
        "/people/?q=7360",
        "/tickets/new/",
        "/tickets/?q=niki",
    ):
        response = asset.goto(path)
        assert response.status == 200, path
        shown, markup = asset.locator("body").inner_text(), asset.content()
        query = path.partition("q=")[2]
        if query:  # the page may repeat the search itself back; nothing else may match
            shown = shown.replace(f"“{query}”", "")
            markup = re.sub(rf'(value="{query}"|“{query}”|q={query})', "", markup)
            expect(asset.locator("main tbody tr")).to_have_count(0)
        assert not NIKI.search(shown), f"Niki shows on {path}"
        assert not NIKI_WORD.search(markup), f"Niki is in the markup of {path}"
    asset.goto("/no-such-page/")
    unknown = asset.get_by_role("heading", level=1).text_content()
    for path in ("/niki/", "/nyx/"):
        response = asset.goto(path)
        assert response.status == 404, path
        expect(asset.get_by_role("heading", level=1)).to_have_text(unknown)

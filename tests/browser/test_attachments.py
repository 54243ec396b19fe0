"""Attachments as people use them, in Chromium: attach a file on the ticket page, attach one to a comment,
see a disguised file refused at the field, and download. A peer who does not see the ticket gets "not found".

With DIRECTORATE_SCREENSHOTS set to a folder, the ticket page with its attachments is saved there.
"""

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import file_and_submit, screenshot

pytestmark = pytest.mark.browser

ASSET, MARSHAL, PEER = "asset.north", "marshal.vance", "asset.lark"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
CSV = b"hour,trucks\n04:00,3\n05:00,1\n"


def test_attach_refuse_comment_and_download(page, new_context, console_log, sign_in):
    sign_in(ASSET)
    title = f"Depot photographs {secrets.token_hex(3)}"
    ticket_url = file_and_submit(page, title, hours="2")

    # A file on the ticket itself (the form posts through htmx and redraws the ticket).
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "east depot.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Attach file").click()
    files = page.locator("#attachments .files")
    expect(files).to_contain_text("east depot.png")
    expect(files).to_contain_text("PNG image")
    expect(files).to_contain_text("Jonas North")

    # A page dressed as a picture is refused at the field, and nothing is listed.
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "innocent.png", "mimeType": "image/png", "buffer": b"<html><script>alert(1)</script></html>"}
    )
    page.get_by_role("button", name="Attach file").click()
    expect(page.locator("#attachments .field-error")).to_contain_text("Markup (HTML, SVG, XML) is not accepted")
    expect(page.locator("#attachments .files li")).to_have_count(1)

    # A comment with a file: listed under that comment.
    page.get_by_label("Comment (markdown)").fill("Truck counts for the night shift.")
    page.get_by_label("Attach a file (optional)").set_input_files(
        {"name": "counts.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Add comment").click()
    comment = page.locator(".comment", has_text="Truck counts for the night shift.")
    expect(comment.locator(".files")).to_contain_text("counts.csv")
    screenshot(page, "ticket-attachments")

    # The download: the same bytes, as a file to save, with the verified type.
    with page.expect_download() as caught:
        page.get_by_role("link", name="east depot.png").click()
    download = caught.value
    assert download.suggested_filename == "east depot.png"
    assert open(download.path(), "rb").read() == PNG
    href = page.get_by_role("link", name="counts.csv").get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200 and response.body() == CSV
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment;")

    # The reviewer sees both files; a peer who does not see the ticket gets "not found" for the file too.
    reviewer = sign_in(MARSHAL, on=new_context().new_page())
    reviewer.goto(ticket_url)
    expect(reviewer.locator("#attachments .files")).to_contain_text("east depot.png")
    assert reviewer.request.get(href).body() == CSV
    peer = sign_in(PEER, on=new_context().new_page())
    refused = peer.request.get(href)
    assert refused.status == 404 and b"No such attachment." in refused.body()

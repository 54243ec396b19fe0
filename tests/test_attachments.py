"""Attachments on tickets and comments (docs/rules.md section 10), through the pages and the services.

Files are judged by their content; the bytes go to the attachments storage, here a temporary folder.
A refused upload leaves no row and no file.
"""

import hashlib
import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile

from attachments import services
from attachments.content import sanitised_filename
from attachments.models import Attachment
from attachments.views import content_disposition
from tests.invariants import database_state, traces_of_niki
from tests.stored_files import stored_bytes
from tests.stored_files import stored_files as stored
from tests.test_live_events import call, tap
from tickets import services as tickets
from tickets.models import Comment

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00;"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>'
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


@pytest.fixture
def storage_folder(attachments_folder):
    return attachments_folder


@pytest.fixture
def ticket(org):
    """Marshal Vance's directive to shadow Holt: seen by both, their superiors, not by the other branch."""
    return tickets.create_ticket(
        actor=org["marshal"],
        title="Photograph the east depot",
        category="Intel",
        sub_category="Recon Report",
        assignee_id=org["shadow"].id,
    )


def stored_files(_storage_folder):
    return stored()


def upload(client, ticket, name, content, **extra):
    return client.post(f"/tickets/{ticket.id}/attachments/", {"file": SimpleUploadedFile(name, content), **extra})


def text(response):
    return response.content.decode()


def download(client, attachment_id):
    response = client.get(f"/attachments/{attachment_id}/")
    return response, b"".join(response.streaming_content) if response.streaming else response.content


def without_csrf(body):
    return re.sub(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+', r"\1TOKEN", body)


# Accepted types --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("depot.png", PNG, "image/png"),
        ("depot.JPG", JPEG, "image/jpeg"),
        ("depot.jpeg", JPEG, "image/jpeg"),
        ("depot.gif", GIF, "image/gif"),
        ("report.pdf", PDF, "application/pdf"),
        ("notes.txt", "Trucks at 04:00, three of them. Überstunden noted.\n".encode(), "text/plain"),
        ("notes.md", b"# Findings\n\n- gate **open**\n", "text/plain"),
        ("counts.csv", b"hour,trucks\n04:00,3\n05:00,1\n", "text/csv"),
    ],
)
def test_allowed_types_are_attached_and_downloaded_as_verified(
    as_, org, ticket, storage_folder, name, content, content_type
):
    client = as_(org["shadow"])
    response = upload(client, ticket, name, content)
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.id}/"
    attachment = Attachment.objects.get(ticket=ticket)
    assert (attachment.filename, attachment.content_type, attachment.size) == (name, content_type, len(content))
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.uploader_id == org["shadow"].id and attachment.comment_id is None
    assert stored_files(storage_folder) == [attachment.storage_name]
    assert stored_bytes(attachment.storage_name) == content

    page = text(client.get(f"/tickets/{ticket.id}/"))
    assert name in page and f'href="/attachments/{attachment.id}/"' in page

    response, body = download(as_(org["marshal"]), attachment.id)
    assert response.status_code == 200 and body == content
    assert response["Content-Type"] == content_type + ("; charset=utf-8" if content_type.startswith("text/") else "")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Length"] == str(len(content))
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]


def test_text_without_a_markup_start_keeps_its_angle_brackets(as_, org, ticket):
    content = b"Gate 4 -> gate 5; count < 10 and > 2.\n"
    assert upload(as_(org["shadow"]), ticket, "route.txt", content).status_code == 302
    assert Attachment.objects.get(ticket=ticket).content_type == "text/plain"


# Refused files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("photo.png", HTML, "not accepted"),
        ("scan.pdf", PNG, "its name ends in .pdf"),
        ("photo.jpg", PNG, "its name ends in .jpg"),
        ("drawing.svg", SVG, "Markup"),
        ("drawing.txt", SVG, "Markup"),
        ("drawing.png", SVG, "Markup"),
        ("page.html", HTML, "Markup"),
        ("page.txt", HTML, "Markup"),
        ("notes.txt", b"Read this first.\n<script>alert(1)</script>\n", "Markup"),
        ("notes.txt", b"", "The submitted file is empty."),
        ("tool.txt", ELF, "not accepted"),
        ("tool.exe", WINDOWS_EXE, "not accepted"),
        ("tool.png", WINDOWS_EXE, "not accepted"),
        ("run.txt", b"#!/bin/sh\nrm -rf /\n", "Scripts are not accepted."),
        ("notes", b"plain words\n", "its name ends in nothing"),
        ("notes.exe", b"plain words\n", "its name ends in .exe"),
        ("latin1.txt", "Caf\xe9 au lait".encode("latin-1"), "not accepted"),
        ("utf16.txt", "hello".encode("utf-16"), "not accepted"),
    ],
)
def test_disguised_and_unknown_files_are_refused_and_nothing_is_stored(
    as_, org, ticket, storage_folder, name, content, message
):
    client = as_(org["shadow"])
    before = database_state()
    response = upload(client, ticket, name, content)
    assert response.status_code == 400
    assert message in text(response).replace("&#x27;", "'")
    assert 'class="field-error"' in text(response)
    assert not Attachment.objects.exists() and stored_files(storage_folder) == []
    assert database_state() == before


def test_no_file_chosen_is_refused_at_the_field(as_, org, ticket):
    response = as_(org["shadow"]).post(f"/tickets/{ticket.id}/attachments/", {})
    assert response.status_code == 400 and "This field is required." in text(response)


def test_an_oversize_upload_is_refused_with_its_size_and_nothing_is_kept(as_, org, ticket, storage_folder, settings):
    settings.ATTACHMENT_MAX_BYTES = 10_000
    client = as_(org["shadow"])
    before = database_state()
    response = upload(client, ticket, "long.txt", b"x" * 10_001 + b"\n" * 19_999)
    assert response.status_code == 400
    assert "The file is 29.3 KB; attachments are at most 9.8 KB." in text(response)
    assert not Attachment.objects.exists() and stored_files(storage_folder) == []
    assert database_state() == before
    # At the limit exactly, it is taken.
    assert upload(client, ticket, "exact.txt", b"y" * 10_000).status_code == 302


def test_at_the_default_limit_large_files_pass_through_temporary_files_and_bigger_ones_do_not(
    as_, org, ticket, storage_folder
):
    client = as_(org["shadow"])
    big = PDF + b"0" * (4 * 1024 * 1024)  # past Django's 2.5 MB in memory: buffered in a temporary file
    assert upload(client, ticket, "big.pdf", big).status_code == 302
    assert stored_bytes(Attachment.objects.get().storage_name) == big
    response = upload(client, ticket, "huge.pdf", PDF + b"0" * (6 * 1024 * 1024))
    assert response.status_code == 400 and "attachments are at most 5.0 MB" in text(response)
    assert Attachment.objects.count() == 1 and len(stored_files(storage_folder)) == 1


def test_oversize_through_the_service_is_refused_too(org, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(services.Invalid, match="at most 100 bytes"):
        services.attach_to_ticket(
            actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile("a.txt", b"a" * 101)
        )


def test_a_ticket_holds_at_most_twenty_files(as_, org, ticket, storage_folder):
    for number in range(services.MAX_PER_TICKET):
        services.attach_to_ticket(
            actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile(f"{number}.txt", b"line\n")
        )
    response = upload(as_(org["marshal"]), ticket, "one-more.txt", b"line\n")
    assert response.status_code == 400 and "A ticket holds at most 20 attachments." in text(response)
    assert Attachment.objects.filter(ticket=ticket).count() == services.MAX_PER_TICKET
    assert len(stored_files(storage_folder)) == services.MAX_PER_TICKET
    assert sorted(Attachment.objects.values_list("position", flat=True)) == list(range(1, 21))


# Who may attach and download ---------------------------------------------------------------------------------


def test_a_closed_ticket_refuses_uploads(as_, org, ticket, storage_folder):
    tickets.start_work(actor=org["shadow"], ticket_id=ticket.id)
    tickets.submit_for_review(actor=org["shadow"], ticket_id=ticket.id, reward_credits=1, reward_pay="1.00")
    tickets.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="1.00")
    client = as_(org["shadow"])
    before = database_state()
    response = upload(client, ticket, "late.txt", b"too late\n")
    assert response.status_code == 409 and "This ticket is closed and read-only." in text(response)
    response = client.post(
        f"/tickets/{ticket.id}/attachments/comment/",
        {"body_md": "Late note", "file": SimpleUploadedFile("late.txt", b"too late\n")},
    )
    assert response.status_code == 409
    assert database_state() == before and stored_files(storage_folder) == []
    assert "Attach file" not in text(client.get(f"/tickets/{ticket.id}/"))


def test_someone_who_cannot_see_the_ticket_cannot_attach(as_, org, ticket, storage_folder):
    response = upload(as_(org["asset_3"]), ticket, "intrusion.txt", b"hello\n")
    assert response.status_code == 404 and not Attachment.objects.exists() and stored_files(storage_folder) == []


def test_download_out_of_sight_is_the_same_404_as_a_missing_attachment(as_, org, ticket):
    attachment = services.attach_to_ticket(
        actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile("depot.png", PNG)
    )
    client = as_(org["asset_3"])  # the other branch: does not see the ticket
    hidden, _ = download(client, attachment.id)
    missing, _ = download(client, "0123456789abcdef01234567")
    malformed, _ = download(client, "not-an-id")
    assert hidden.status_code == missing.status_code == malformed.status_code == 404
    assert without_csrf(text(hidden)) == without_csrf(text(missing)) == without_csrf(text(malformed))
    assert "depot" not in text(hidden)
    assert download(as_(org["executor"]), attachment.id)[0].status_code == 200  # above the branch: sees it


def test_private_tickets_files_are_for_author_assignee_and_reviewer_only(as_, org):
    ticket = tickets.create_ticket(
        actor=org["asset"],
        title="A private matter",
        category="Request",
        sub_category="Leave",
        assignee_id=org["shadow"].id,
        visibility="private",
    )
    attachment = services.attach_to_ticket(
        actor=org["asset"], ticket_id=ticket.id, upload=SimpleUploadedFile("note.txt", b"private\n")
    )
    for person in ("asset", "shadow"):
        assert download(as_(org[person]), attachment.id)[0].status_code == 200
    for person in ("marshal", "executor", "asset_2"):  # superiors see hierarchical tickets only
        assert download(as_(org[person]), attachment.id)[0].status_code == 404
    assert download(as_(org["niki"]), attachment.id)[0].status_code == 200


def test_signed_out_requests_go_to_sign_in(client, org, ticket):
    attachment = services.attach_to_ticket(
        actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile("a.txt", b"a\n")
    )
    for response in (client.get(f"/attachments/{attachment.id}/"), upload(client, ticket, "b.txt", b"b\n")):
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Attachment.objects.count() == 1


def test_get_on_upload_and_post_on_download_are_405(as_, org, ticket):
    client = as_(org["shadow"])
    assert client.get(f"/tickets/{ticket.id}/attachments/").status_code == 405
    assert client.post("/attachments/0123456789abcdef01234567/").status_code == 405


# Comments with files ---------------------------------------------------------------------------------------


def test_a_comment_may_carry_a_file_listed_under_it(as_, org, ticket, storage_folder):
    client = as_(org["shadow"])
    response = client.post(
        f"/tickets/{ticket.id}/attachments/comment/",
        {"body_md": "Photo of gate 4 attached.", "file": SimpleUploadedFile("gate4.png", PNG)},
    )
    assert response.status_code == 302
    comment = Comment.objects.get(ticket=ticket)
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.comment_id == comment.id
    page = text(client.get(f"/tickets/{ticket.id}/"))
    thread = page[page.index('id="thread-heading"') :]
    assert "gate4.png" in thread and "No files attached." in page  # under the comment, not on the ticket


def test_a_comment_without_a_file_still_works(as_, org, ticket):
    response = as_(org["shadow"]).post(f"/tickets/{ticket.id}/attachments/comment/", {"body_md": "Just words."})
    assert response.status_code == 302 and Comment.objects.get(ticket=ticket).body_md == "Just words."
    assert not Attachment.objects.exists()


def test_a_refused_file_adds_no_comment(as_, org, ticket, storage_folder):
    client = as_(org["shadow"])
    before = database_state()
    response = client.post(
        f"/tickets/{ticket.id}/attachments/comment/",
        {"body_md": "See the page.", "file": SimpleUploadedFile("page.png", HTML)},
    )
    assert response.status_code == 400 and "See the page." in text(response)  # the text is kept in the form
    assert database_state() == before and stored_files(storage_folder) == []


def test_only_a_comments_author_attaches_to_it(org, ticket):
    comment = tickets.add_comment(actor=org["shadow"], ticket_id=ticket.id, body_md="Mine.")
    with pytest.raises(services.Forbidden):
        services.attach_to_comment(
            actor=org["marshal"], comment_id=comment.id, upload=SimpleUploadedFile("a.txt", b"a\n")
        )
    with pytest.raises(services.NotFound, match="No such comment."):
        services.attach_to_comment(
            actor=org["asset_3"], comment_id=comment.id, upload=SimpleUploadedFile("a.txt", b"a\n")
        )
    assert not Attachment.objects.exists()


# Events and notifications ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_attaching_refreshes_open_ticket_pages_and_notifies_the_others(org, ticket):
    async def scenario():
        async with tap(org["marshal"]) as drain:
            await call(
                services.attach_to_ticket,
                actor=org["shadow"],
                ticket_id=ticket.id,
                upload=SimpleUploadedFile("a.txt", b"a\n"),
            )
            return await drain()

    events = {message["event"]: message["data"] for message in async_to_sync(scenario)()}
    assert sorted(events) == ["notification", "ticket_updated"]
    updated_at = datetime.fromisoformat(events["ticket_updated"].pop("updated_at"))
    assert events["ticket_updated"] == {"ticket_id": ticket.id, "status": "open"}
    ticket.refresh_from_db()
    assert abs(updated_at - ticket.updated_at) < timedelta(milliseconds=1)  # MongoDB keeps milliseconds
    assert events["notification"]["message"] == f"{org['shadow']} attached a.txt to: {ticket.title}"


# Niki -------------------------------------------------------------------------------------------------------


def test_the_controllers_files_show_as_the_directorates(as_, org, ticket):
    niki = org["niki"]
    services.attach_to_ticket(actor=niki, ticket_id=ticket.id, upload=SimpleUploadedFile("order.txt", b"obey\n"))
    services.comment_with_attachment(
        actor=niki, ticket_id=ticket.id, body_md="See attached.", upload=SimpleUploadedFile("annex.csv", b"a,b\n1,2\n")
    )
    for person in ("shadow", "marshal", "executor"):
        page = text(as_(org[person]).get(f"/tickets/{ticket.id}/"))
        assert "order.txt" in page and "annex.csv" in page
        assert page.count("The Directorate") >= 3  # two files and the comment
        assert traces_of_niki(page, niki) == []
    response, _ = download(as_(org["shadow"]), Attachment.objects.get(filename="order.txt").id)
    assert traces_of_niki(str(response.headers), niki) == []


# Names --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system32\\notes.txt", "notes.txt"),
        ("report\r\nSet-Cookie: x=1.txt", "report Set-Cookie_ x=1.txt"),
        ('say "hi"; filename=evil.txt', "say _hi__ filename=evil.txt"),
        ("photo\u202egnp.txt", "photo gnp.txt"),  # a right-to-left override would show "photo.txt" reversed
        ("...hidden.txt", "hidden.txt"),
        ("résumé.txt", "résumé.txt"),
        ("a" * 300 + ".txt", "a" * 116 + ".txt"),
        ("", "file"),
    ],
)
def test_filenames_are_sanitised(raw, shown):
    assert sanitised_filename(raw) == shown


def test_a_hostile_name_is_neutralised_in_the_page_and_the_header(as_, org, ticket):
    # Through the service: Django's test client would send this name unescaped, as no browser does.
    name = 'x"><img src=x onerror=alert(1)>\r\nX-Evil: 1;é.txt'
    attachment = services.attach_to_ticket(
        actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile(name, b"payload\n")
    )
    client = as_(org["shadow"])
    assert "\r" not in attachment.filename and "\n" not in attachment.filename and '"' not in attachment.filename
    page = text(client.get(f"/tickets/{ticket.id}/"))
    assert "<img src=x" not in page
    response, _ = download(client, attachment.id)
    disposition = response["Content-Disposition"]
    assert "X-Evil" not in response.headers or response.headers.get("X-Evil") is None
    assert disposition.startswith('attachment; filename="') and "filename*=UTF-8''" in disposition
    assert disposition.count('"') == 2 and "\r" not in disposition and "\n" not in disposition
    assert "%C3%A9.txt" in disposition  # é, percent-encoded per RFC 5987


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name():
    assert content_disposition("Überblick 2026.pdf") == (
        "attachment; filename=\"_berblick 2026.pdf\"; filename*=UTF-8''%C3%9Cberblick%202026.pdf"
    )


# The JSON API -------------------------------------------------------------------------------------------------


def api_upload(client, ticket, name, content):
    return client.client.post(
        f"/api/tickets/{ticket.id}/attachments",
        {"file": SimpleUploadedFile(name, content)},
        headers={"Authorization": f"Bearer {client.token}"},
    )


def test_the_api_lists_uploads_and_downloads(as_member, org, ticket, storage_folder):
    shadow = as_member(org["shadow"])
    response = api_upload(shadow, ticket, "depot.png", PNG)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["filename"], body["content_type"], body["size"]) == ("depot.png", "image/png", len(PNG))
    assert body["uploader"]["username"] == org["shadow"].username and body["comment_id"] is None
    assert body["download"] == f"/api/attachments/{body['id']}"
    listed = as_member(org["marshal"]).get(f"/api/tickets/{ticket.id}/attachments")
    assert listed.status_code == 200 and [item["id"] for item in listed.json()] == [body["id"]]
    got = as_member(org["marshal"]).get(body["download"])
    assert got.status_code == 200 and b"".join(got.streaming_content) == PNG
    assert got["Content-Type"] == "image/png" and got["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in got["Cache-Control"] and "private" in got["Cache-Control"]


def test_the_api_refuses_bad_files_and_hides_what_you_cannot_see(as_member, org, ticket, storage_folder):
    shadow = as_member(org["shadow"])
    refused = api_upload(shadow, ticket, "photo.png", HTML)
    assert refused.status_code == 400 and refused.json()["errors"] == {"file": [refused.json()["detail"]]}
    missing_file = shadow.client.post(
        f"/api/tickets/{ticket.id}/attachments", {}, headers={"Authorization": f"Bearer {shadow.token}"}
    )
    assert missing_file.status_code == 400 and "file" in missing_file.json()["errors"]
    attachment = services.attach_to_ticket(
        actor=org["shadow"], ticket_id=ticket.id, upload=SimpleUploadedFile("a.txt", b"a\n")
    )
    outsider = as_member(org["asset_3"])
    for path in (f"/api/attachments/{attachment.id}", f"/api/tickets/{ticket.id}/attachments"):
        hidden = outsider.get(path)
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert (
        outsider.get(f"/api/attachments/{attachment.id}").json()
        == outsider.get("/api/attachments/0123456789abcdef01234567").json()
    )
    assert api_upload(outsider, ticket, "b.txt", b"b\n").status_code == 404
    assert stored_files(storage_folder) == [attachment.storage_name]


def test_the_api_shows_the_controllers_file_as_the_directorates(as_member, org, ticket):
    services.attach_to_ticket(actor=org["niki"], ticket_id=ticket.id, upload=SimpleUploadedFile("o.txt", b"o\n"))
    answer = as_member(org["shadow"]).get(f"/api/tickets/{ticket.id}/attachments")
    assert answer.json()[0]["uploader"] == {"name": "The Directorate"}
    assert traces_of_niki(answer.content.decode(), org["niki"]) == []

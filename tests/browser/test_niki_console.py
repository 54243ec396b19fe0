"""Niki's console, by clicking, at desktop and phone width: each power, its effect as the affected member sees
it (the Directorate's, never Niki's), the refusals, and the audit log.

The members acted on are ones no other browser test relies on, and every rank or superior changed here is
changed back before the test ends, so the shared demo organisation stays as the other tests expect it.
With DIRECTORATE_SCREENSHOTS set to a folder, the console, the audit log and a ticket's override panel are
saved there.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import niki_password_for
from tests.browser.support import file_and_submit, screen_page, screenshot

pytestmark = pytest.mark.browser

SCREENS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}, "suffix": ""},
    "phone": {"viewport": {"width": 390, "height": 844}, "suffix": "-phone", "is_mobile": True, "has_touch": True},
}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
NIKI_WORD = re.compile(r"(?<![A-Za-z0-9_-])(niki|7360)(?![A-Za-z0-9_-])", re.IGNORECASE)
# Members no other browser test uses, one set per screen so the two runs do not meet.
CAST = {
    "desktop": {
        "filer": ("asset.voss", "Asset Nell Voss"),
        "paid": ("asset.moss", "Evan Moss"),
        "moved": ("asset.crane", "Ivo Crane"),
        "promoted": ("asset.ferro", "Kit Ferro"),
    },
    "phone": {
        "filer": ("asset.lark", "Asset Pia Lark"),  # never promoted by another test: the label stays
        "paid": ("asset.stone", "Cy Stone"),
        "moved": ("asset.grey", "Dag Grey"),
        "promoted": ("asset.ash", "Uma Ash"),
    },
}


@pytest.fixture(params=SCREENS)
def screen(request):
    return request.param


@pytest.fixture
def open_as(new_context, console_log, demo_password, screen):
    """`open_as(username)`: a page of a fresh context at this screen's size, signed in through the form."""

    def open_page(username):
        page = screen_page(new_context, console_log, screen, SCREENS)
        page.goto("/login/")
        page.get_by_label("Service name").fill(username)
        page.get_by_label("Password").fill(niki_password_for(demo_password) if username == "niki" else demo_password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)
        return page

    return open_page


def form(page, heading):
    return page.locator("section.console-form", has=page.get_by_role("heading", name=heading, exact=True))


def pick(section, legend, query, option):
    """Search a picker of the form and choose the option whose label holds `option`."""
    picker = section.locator("fieldset.picker", has=section.page.locator(f"legend:text-is('{legend}')"))
    if picker.count() != 1:
        picker = section.locator("fieldset.picker", has_text=legend).first
    picker.get_by_role("searchbox").fill(query)
    choice = picker.get_by_role("radio", name=re.compile(rf"^\s*(?:\w+ )?{re.escape(option)}\b"))
    expect(choice).to_have_count(1)
    choice.check()
    return picker


def assert_no_niki(page):
    shown, markup = page.locator("body").inner_text(), page.content()
    assert "Niki" not in shown and not NIKI_WORD.search(markup), page.url


def console(page):
    page.get_by_role("link", name="Controller", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Controller console")
    assert page.evaluate(OVERFLOW) <= 0, "the console scrolls sideways"


def test_override_from_the_ticket_page(open_as, screen):
    cast = CAST[screen]
    title = f"Border watch {secrets.token_hex(3)}"
    member = open_as(cast["filer"][0])
    ticket_url = file_and_submit(
        member, title, assignee=f"{cast['filer'][1]} ({cast['filer'][0]})", credits="2", pay="40.00"
    )  # abnormal: it would climb past the marshal

    niki = open_as("niki")
    expect(niki.get_by_role("heading", level=1)).to_have_text("Niki")
    niki.goto(ticket_url)
    panel = niki.locator("#niki-override")
    expect(panel.get_by_role("heading", name="Override")).to_be_visible()
    # A refusal is shown in the panel, in place; the ticket stays as it was.
    panel.get_by_label("Pay (¤)").fill("lots")
    panel.get_by_label("Reason").fill("Held the border alone.")
    panel.get_by_role("button", name="Override and approve").click()
    expect(niki.locator("#niki-override .form-errors")).to_contain_text("Refused")
    expect(niki.locator("#niki-override .form-errors")).to_contain_text("Nothing was changed.")
    expect(niki.locator(".ticket-meta .status")).to_have_text("Awaiting review")

    panel = niki.locator("#niki-override")
    panel.get_by_label("Credits").fill("5")
    panel.get_by_label("Pay (¤)").fill("")
    panel.get_by_label("Reason").fill("Held the border alone.")
    screenshot(niki, f"niki-override{SCREENS[screen]['suffix']}")
    panel.get_by_role("button", name="Override and approve").click()
    # The page reloads with the ticket closed (its live redraw may take the flash message first).
    expect(niki.locator(".ticket-meta .status")).to_have_text("Closed")
    expect(niki.locator(".log")).to_contain_text("Approved by The Directorate")
    expect(niki.locator(".log")).to_contain_text("5 cr · ¤40.00")
    expect(niki.locator("#niki-override")).to_contain_text("Closed tickets stay read-only")

    # The member's open page follows: closed, approved by the Directorate.
    expect(member.locator(".ticket-meta .status")).to_have_text("Closed")
    member.goto(ticket_url)
    expect(member.locator(".log")).to_contain_text("Approved by The Directorate")
    assert_no_niki(member)
    member.goto("/inbox/")
    expect(member.locator("main")).to_contain_text("Reward approved by The Directorate")
    assert_no_niki(member)


def test_adjust_broadcast_and_directives_from_the_console(open_as, screen):
    cast = CAST[screen]
    username, name = cast["paid"]
    member = open_as(username)
    credits_before = int(member.locator(".wallet-credits").inner_text())

    niki = open_as("niki")
    console(niki)
    adjust = form(niki, "Adjust a member")
    pick(adjust, "Member", name.split()[1], name)  # by surname
    adjust.get_by_label("Credits").fill("3")
    adjust.get_by_label("Reason").fill("Kept the ledgers straight.")
    adjust.get_by_role("button", name="Adjust").click()
    expect(niki.locator(".messages")).to_contain_text("Adjusted: +3 credits")

    # Live, then after a reload: the wallet, the inbox and the ledger name the Directorate.
    expect(member.locator(".wallet-credits")).to_have_text(str(credits_before + 3))
    member.goto("/inbox/")
    expect(member.locator("main")).to_contain_text("The Directorate adjusted your account by 3 credits")
    assert_no_niki(member)
    member.goto("/ledger/")
    expect(member.locator("main")).to_contain_text("Kept the ledgers straight.")
    assert_no_niki(member)

    message = f"Inspection at dawn {secrets.token_hex(2)}."
    broadcast = form(niki, "Broadcast")
    broadcast.get_by_label("Message to every member").fill(message)
    broadcast.get_by_role("button", name="Broadcast").click()
    expect(niki.locator(".messages")).to_contain_text(re.compile(r"Broadcast to \d+ members\."))
    member.goto("/inbox/")
    expect(member.locator("main")).to_contain_text(f"Command from The Directorate: {message}")
    assert_no_niki(member)

    topic = f"signal drills {secrets.token_hex(2)}"
    directives = form(niki, "Ask Nyx for directives")
    directives.get_by_label("Ask Nyx for directives on").fill(topic)
    directives.get_by_role("button", name="Ask Nyx").click()
    expect(niki.locator(".messages")).to_contain_text(re.compile(r"Nyx issued \d+ directives"))
    kade = open_as("executor.kade")
    kade.goto(f"/tickets/?q={topic.split()[-1]}")
    expect(kade.locator("#ticket-results tbody tr").first).to_be_visible()
    kade.locator("#ticket-results tbody tr a").first.click()
    expect(kade.locator(".ticket-side")).to_contain_text("Nyx")
    assert_no_niki(kade)
    kade.goto("/nyx/")
    assert_no_niki(kade)


def test_promote_demote_and_move_then_back(open_as, screen):
    cast = CAST[screen]
    promoted, promoted_name = cast["promoted"]
    moved, moved_name = cast["moved"]
    niki = open_as("niki")
    console(niki)

    # Promote to shadow under the member's own marshal, then read it as the member.
    rank = form(niki, "Promote or demote")
    picker = pick(rank, "Member", promoted_name.split()[1], promoted_name)
    superior_text = picker.get_by_role("radio", name=re.compile(re.escape(promoted_name))).locator("..").inner_text()
    old_superior = re.search(r"reports to (.+)$", superior_text).group(1).strip()
    rank.get_by_label("New rank").select_option("shadow")
    pick(rank, "New superior", "vance" if "Voss" in old_superior or "Reyes" in old_superior else "sato", "Marshal")
    rank.get_by_role("button", name="Change rank").click()
    expect(niki.locator(".messages")).to_contain_text("Promoted: Asset to Shadow, reporting to Marshal")
    member = open_as(promoted)
    expect(member.locator(".identity")).to_contain_text("Shadow")
    member.goto("/inbox/")
    expect(member.locator("main")).to_contain_text("The Directorate promoted you to Shadow")
    assert_no_niki(member)

    # Back to asset under the old superior.
    console(niki)
    rank = form(niki, "Promote or demote")
    pick(rank, "Member", promoted_name.split()[1], promoted_name)
    rank.get_by_label("New rank").select_option("asset")
    pick(rank, "New superior", old_superior.split()[-1], old_superior)
    rank.get_by_role("button", name="Change rank").click()
    expect(niki.locator(".messages")).to_contain_text(f"Demoted: Shadow to Asset, reporting to {old_superior}.")
    member.goto("/inbox/")
    expect(member.locator("main")).to_contain_text("The Directorate demoted you to Asset")

    # Move to another shadow and back.
    move = form(niki, "Move under another superior")
    picker = pick(move, "Member", moved_name.split()[1], moved_name)
    home = re.search(r"reports to (.+)$", picker.locator("label", has=niki.locator(":checked")).inner_text()).group(1)
    other = "Teo Holt" if "Holt" not in home else "Lena Reyes"
    pick(move, "New superior", other.split()[1], f"Shadow {other}")
    move.get_by_role("button", name="Move").click()
    expect(niki.locator(".messages")).to_have_text(f"Moved: now reports to Shadow {other}.")
    mover = open_as(moved)
    expect(mover.locator(".identity")).to_contain_text(f"Shadow {other}")
    mover.goto("/inbox/")
    expect(mover.locator("main")).to_contain_text(f"The Directorate moved you: you now report to Shadow {other}.")
    assert_no_niki(mover)
    move = form(niki, "Move under another superior")
    pick(move, "Member", moved_name.split()[1], moved_name)
    pick(move, "New superior", home.split()[-1], home.strip())
    move.get_by_role("button", name="Move").click()
    expect(niki.locator(".messages")).to_have_text(f"Moved: now reports to {home.strip()}.")
    screenshot(niki, f"niki-console{SCREENS[screen]['suffix']}")


def test_refusals_say_why_and_change_nothing(open_as, screen):
    cast = CAST[screen]
    moved, moved_name = cast["moved"]
    niki = open_as("niki")
    console(niki)

    # Demoting Nyx.
    rank = form(niki, "Promote or demote")
    pick(rank, "Member", "nyx", "Nyx")
    rank.get_by_label("New rank").select_option("asset")
    rank.get_by_role("button", name="Change rank").click()
    refusal = form(niki, "Promote or demote").locator(".form-errors")
    expect(refusal).to_contain_text("Refused")
    expect(refusal).to_contain_text("Nyx and the Controller keep their places.")
    expect(refusal).to_contain_text("Nothing was changed.")

    # Promoting to Niki: not offered, and refused when forced.
    options = form(niki, "Promote or demote").get_by_label("New rank").locator("option").all_inner_texts()
    assert options == ["Asset", "Shadow", "Marshal", "Executor"]
    token = niki.locator("section#rank input[name=csrfmiddlewaretoken]").input_value()
    forced = niki.request.post(
        "/niki/act/rank",
        form={"csrfmiddlewaretoken": token, "rank-member": "x", "rank-rank": "niki"},
        headers={"Referer": niki.url},
    )
    assert forced.status == 400 and "nobody is made Nyx or the Controller" in forced.text()

    # Moving under oneself.
    console(niki)
    move = form(niki, "Move under another superior")
    picker = pick(move, "Member", moved_name.split()[1], moved_name)
    home = re.search(r"reports to (.+)$", picker.locator("label", has=niki.locator(":checked")).inner_text()).group(1)
    pick(move, "New superior", moved_name.split()[1], moved_name)
    move.get_by_role("button", name="Move").click()
    expect(form(niki, "Move under another superior").locator(".form-errors")).to_contain_text(
        "Nobody reports to themselves"
    )

    # Into a cycle: a shadow under one of their own assets.
    shadow_name = home.strip().removeprefix("Shadow ")
    move = form(niki, "Move under another superior")
    pick(move, "Member", shadow_name.split()[1], f"Shadow {shadow_name}")
    pick(move, "New superior", moved_name.split()[1], moved_name)
    move.get_by_role("button", name="Move").click()
    expect(form(niki, "Move under another superior").locator(".form-errors")).to_contain_text(
        "nobody reports to someone below them"
    )

    # Nothing was written: the member still reports where they did, and heard nothing.
    member = open_as(moved)
    expect(member.locator(".identity")).to_contain_text(home.strip())

    # The audit log marks each refusal, visibly at this width.
    niki.goto("/niki/audit/?outcome=refused")
    rows = niki.locator(".audit-table tbody tr")
    expect(rows.first).to_be_visible()
    for index in range(min(rows.count(), 3)):
        expect(rows.nth(index).locator(".warning")).to_be_visible()
        expect(rows.nth(index).locator(".warning")).to_have_text("Refused")
        expect(rows.nth(index).locator(".audit-result")).to_be_visible()
    expect(niki.locator(".audit-table")).to_contain_text("Nyx and the Controller keep their places.")
    assert niki.evaluate(OVERFLOW) <= 0, "the audit log scrolls sideways"
    screenshot(niki, f"niki-audit{SCREENS[screen]['suffix']}")


def test_niki_s_pages_do_not_exist_for_a_member(open_as):
    member = open_as("asset.dale")
    member.goto("/no-such-page/")
    unknown = member.get_by_role("heading", level=1).text_content()
    for path in (
        "/niki/",
        "/niki/audit/",
        "/niki/audit.csv",
        "/niki/act/override",
        "/niki/pick/people?field=adjust-member&q=a",
    ):
        response = member.goto(path)
        assert response.status == 404, path
        expect(member.get_by_role("heading", level=1)).to_have_text(unknown)
    expect(member.get_by_role("link", name="Controller")).to_have_count(0)

"""The people directory: live search over htmx, and Niki's invisibility."""

import re

import pytest
from playwright.sync_api import expect

from desk.demo import ASSETS, MARSHALS

pytestmark = pytest.mark.browser

MARSHAL, MARSHAL_NAME = MARSHALS[0]
ASSET, _ = ASSETS[0]
NIKI = re.compile(r"niki", re.IGNORECASE)


def test_live_search_filters_in_place_and_never_shows_niki(page, sign_in):
    sign_in(MARSHAL)
    page.get_by_role("link", name="People").click()
    expect(page).to_have_url(re.compile(r"/people/$"))

    results = page.locator("#directory-results")
    rows = results.locator("tbody tr")
    expect(rows.first).to_be_visible()
    everyone = rows.count()
    assert everyone > 1
    expect(page.locator("body")).not_to_contain_text(NIKI)

    # A reload would lose this; an htmx swap keeps it.
    page.evaluate("() => { window.sameDocument = true; }")
    search = page.get_by_label("Search by name")
    with page.expect_request(lambda request: "/people/?q=Vance" in request.url) as sent:
        search.press_sequentially("Vance", delay=40)
    assert sent.value.headers.get("hx-request") == "true"
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(MARSHAL_NAME)
    expect(page).to_have_url(re.compile(r"/people/\?q=Vance$"))

    search.fill("Niki")
    expect(results).to_contain_text("No one you may see matches")
    expect(rows).to_have_count(0)
    search.fill("niki")
    expect(results).to_contain_text("No one you may see matches “niki”")

    search.fill("")
    expect(rows).to_have_count(everyone)
    expect(page.locator("body")).not_to_contain_text(NIKI)
    assert page.evaluate("() => window.sameDocument") is True


def test_search_works_without_javascript_too(browser, base_url, demo_password):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Service name").fill(ASSET)
        page.get_by_label("Password").fill(demo_password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Asset")
        page.goto("/people/")
        page.get_by_label("Search by name").fill("Holt")
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(re.compile(r"/people/\?q=Holt$"))
        expect(page.locator("#directory-results tbody tr")).to_have_count(1)
        expect(page.locator("body")).not_to_contain_text(NIKI)
    finally:
        context.close()

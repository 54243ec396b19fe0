"""Signing in and out through the pages, and what a member sees first."""

import re

import pytest
from playwright.sync_api import expect

from desk.demo import ASSETS, MARSHALS

pytestmark = pytest.mark.browser

MARSHAL, MARSHAL_NAME = MARSHALS[0]
ASSET, _ = ASSETS[0]
BAD_LOGIN = "Service name or password is incorrect."


def test_marshal_signs_in_and_sees_rank_credits_and_balance(page, sign_in):
    sign_in(MARSHAL)

    expect(page).to_have_title(re.compile(r"^Dashboard"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Marshal {MARSHAL_NAME}")

    wallet = page.locator("#wallet")
    expect(wallet.locator(".wallet-rank")).to_have_text("Marshal")
    expect(wallet.locator(".wallet-credits")).to_have_text(re.compile(r"^-?\d+$"))
    expect(wallet.locator(".wallet-balance")).to_have_text(re.compile(r"^¤-?\d+\.\d\d$"))
    # The wallet and the Standing panel show the same figures.
    standing = page.locator(".identity .figure")
    expect(standing.nth(0)).to_have_text(wallet.locator(".wallet-credits").inner_text())
    expect(standing.nth(1)).to_have_text(wallet.locator(".wallet-balance").inner_text())

    # The triangle: four bands, filled from the base up to the rank (marshal is the third).
    icon = wallet.get_by_role("img", name="Rank: Marshal")
    expect(icon).to_be_visible()
    expect(icon.locator(".band")).to_have_count(4)
    expect(icon.locator(".band.filled")).to_have_count(3)

    # The wallet sits in the masthead, on its right.
    masthead = page.locator(".masthead").bounding_box()
    box = wallet.bounding_box()
    assert box["y"] >= masthead["y"] and box["y"] + box["height"] <= masthead["y"] + masthead["height"]
    assert box["x"] > page.viewport_size["width"] / 2


@pytest.mark.parametrize("username", [MARSHALS[1][0], "nobody.at.all"], ids=["wrong-password", "unknown-name"])
def test_a_refused_sign_in_says_so_plainly(page, username):
    page.goto("/login/")
    page.get_by_label("Service name").fill(username)
    page.get_by_label("Password").fill("not-the-password-at-all")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()

    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_have_text(BAD_LOGIN)
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("Service name")).to_have_value(username)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.locator("#wallet")).to_have_count(0)


def test_sign_out_ends_the_session(page, sign_in):
    sign_in(ASSET)
    expect(page.locator("#wallet")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#wallet")).to_have_count(0)
    page.goto("/profile/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/profile/$"))

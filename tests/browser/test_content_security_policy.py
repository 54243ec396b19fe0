"""The Content Security Policy holds on every page, and the scripts we ship still run under it.

Every browser test fails on a CSP violation (see `console_log` in conftest.py); this module walks
the pages on purpose and proves that the watch would see a violation.
"""

import re

import pytest
from playwright.sync_api import expect

from desk.demo import MARSHALS
from tests.browser.support import ConsoleLog

pytestmark = pytest.mark.browser

MARSHAL, _ = MARSHALS[0]
HTMX_VERSION = re.compile(r"^2\.0\.")


def assert_policy_and_scripts(page, response):
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    assert HTMX_VERSION.match(page.evaluate("() => window.htmx && window.htmx.version") or ""), "htmx did not load"
    assert page.evaluate("() => htmx.config.allowEval") is False
    assert page.locator("[style]").count() == 0, "inline style attributes are refused by the policy"
    assert page.locator("script:not([src])").count() == 0, "inline scripts are refused by the policy"


def test_every_page_keeps_the_policy_and_loads_htmx(page, sign_in, console_log):
    static_failures = []
    page.on(
        "response",
        lambda response: response.status >= 400 and "/static/" in response.url and static_failures.append(response.url),
    )

    response = page.goto("/login/")
    assert_policy_and_scripts(page, response)

    sign_in(MARSHALS[0][0])
    for path in ["/", "/profile/", "/people/", "/people/?q=Sato", "/people/no-such-person/"]:
        response = page.goto(path)
        assert_policy_and_scripts(page, response)

    # A person's page, reached through the directory's live search (an htmx swap).
    page.goto("/people/")
    page.get_by_label("Search by name").fill("Holt")
    expect(page.locator("#directory-results tbody tr")).to_have_count(1)
    with page.expect_navigation() as navigation:
        page.get_by_role("link", name="Teo Holt").click()
    assert_policy_and_scripts(page, navigation.value)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Teo Holt")

    assert static_failures == []
    assert console_log.csp_violations() == []


def test_a_violation_would_be_noticed(browser, base_url):
    """The canary: inline style and script are refused, and the refusal reaches the console."""
    context = browser.new_context(base_url=base_url)
    log = ConsoleLog()
    log.watch(context)
    try:
        page = context.new_page()
        page.goto("/login/")
        page.evaluate(
            """() => {
                document.body.setAttribute("style", "background: red");
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true";
                document.body.append(script);
            }"""
        )
        for _ in range(40):  # console messages arrive asynchronously
            if len(log.csp_violations()) >= 2:
                break
            page.wait_for_timeout(50)
        assert page.evaluate("() => window.inlineRan === undefined")
        violations = log.csp_violations()
        assert any("inline style" in text for text in violations), violations
        assert any("inline script" in text for text in violations), violations
    finally:
        context.close()

"""Hostile text in tickets renders inert on every page that shows it.

Asset Lark files tickets through the forms whose titles, body and comments carry the payloads
below, addressed upward to shadow Holt. Lark's and Holt's pages (ticket page, ticket list,
dashboard, inbox) must show them as text: no dialog opens, no injected element or inline handler
exists in the DOM, no dangerous URL survives in a link or image, the Content Security Policy
watcher (conftest) sees no blocked inline script, and the payload is visible as typed.
"""

import secrets

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

AUTHOR, AUTHOR_NAME, READER = "asset.lark", "Asset Pia Lark (asset.lark)", "shadow.holt"
READER_LABEL = "Shadow Teo Holt (shadow.holt)"
TITLE_LENGTH = 200

PAYLOADS = [
    # script tags
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<script>alert(String.fromCharCode(88,83,83))</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<script type=module>alert(1)</script>",
    # event-handler attributes
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"alert('img')\">",
    "<body onload=alert(1)>",
    "<div onmouseover=alert(1)>hover</div>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<select autofocus onfocus=alert(1)>",
    "<button formaction=javascript:alert(1)>go</button>",
    '" onmouseover="alert(1)',
    "' autofocus onfocus='alert(1)",
    # javascript: and data: URLs
    "<a href=javascript:alert(1)>click</a>",
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<object data=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==></object>",
    "<embed src=data:text/html,<script>alert(1)</script>>",
    "<form action=javascript:alert(1)><input type=submit></form>",
    '<meta http-equiv=refresh content="0;url=javascript:alert(1)">',
    "<base href=javascript:alert(1)//>",
    # SVG and MathML tricks
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=javascript:alert(1)><text x=20 y=20>X</text></a></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=javascript:alert(1)>CLICK</math>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    # broken markup
    '<img src="x` `<script>alert(1)</script>"` `>',
    "<<script>alert(1);//<</script>",
    '<img """><script>alert(1)</script>">',
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<a href="" onclick=alert(1)//',
    # markdown link tricks
    "[click me](javascript:alert(1))",
    "[upper](JaVaScRiPt:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '![pic](x" onerror="alert(1))',
    "![pic](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[entity](&#106;avascript:alert(1))",
    "[vb](vbscript:msgbox(1))",
    '[x](https://ok.example "title" onmouseover=alert(1))',
    # template-looking strings
    "{{7*7}}",
    "{% debug %}",
    "${alert(1)}",
    "#{7*7} <%= 7*7 %>",
]

# Run in the page: anything a payload could have smuggled into the DOM.
INJECTED = r"""() => {
  const found = [];
  const describe = el => el.outerHTML.slice(0, 100);
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push("handler: " + describe(el));
      if (/^(href|src|action|formaction|data|srcdoc|xlink:href)$/i.test(attr.name)
          && /^\s*(javascript|vbscript|data):/i.test(attr.value.replace(/[\u0000-\u0020]/g, ""))) {
        found.push("url: " + describe(el));
      }
    }
  }
  const hostile = "script, iframe, object, embed, base, meta, link, style, form, input, select, textarea, button, "
    + "svg, math, video, audio, img, details, marquee, noscript";
  for (const zone of document.querySelectorAll(".prose, h1, .table td a, .inbox-text")) {
    for (const el of zone.querySelectorAll(hostile)) found.push("element: " + describe(el));
  }
  for (const el of document.querySelectorAll("script:not([src])")) found.push("inline script: " + describe(el));
  for (const el of document.querySelectorAll("body meta, body base, body link")) {
    found.push("head element in body: " + describe(el));
  }
  return found;
}"""


def titles_for(payloads, tag):
    """Pack the payloads into as few titles as fit, each title starting with the run's tag."""
    titles, current = [], tag
    for payload in payloads:
        candidate = f"{current} {payload}"
        if len(candidate) > TITLE_LENGTH:
            titles.append(current)
            candidate = f"{tag} {payload}"
        current = candidate
    titles.append(current)
    return titles


def create_ticket(page, title, body):
    page.goto("/tickets/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Category", exact=True).select_option("Request")
    expect(page.get_by_label("Sub category")).to_contain_text("Resource")
    page.get_by_label("Sub category").select_option("Resource")
    page.get_by_label("Address to").select_option(label=READER_LABEL)
    page.get_by_label("Details (markdown)").fill(body)
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return page.url


def assert_inert(page, where, dialogs):
    page.wait_for_load_state("load")
    page.wait_for_timeout(50)  # let any autofocus or load handler that slipped through fire
    assert dialogs == [], f"a dialog opened on {where}: {dialogs}"
    found = page.evaluate(INJECTED)
    assert found == [], f"injected markup on {where}: {found}"


def test_fifty_payloads_render_inert_everywhere(new_context, console_log, sign_in):
    assert len(PAYLOADS) >= 50
    tag = f"X{secrets.token_hex(3)}"
    dialogs = []
    pages = []
    for _ in range(2):
        context = new_context()
        console_log.watch(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        pages.append(page)
    author, reader = pages
    sign_in(AUTHOR, on=author)

    titles = titles_for(PAYLOADS, tag)
    body = "\n\n".join(PAYLOADS)
    urls = [create_ticket(author, title, body) for title in titles]
    assert_inert(author, "the new ticket", dialogs)

    # Comments: the payloads again, a handful per comment.
    author.goto(urls[0])
    for start in range(0, len(PAYLOADS), 12):
        text = "\n\n".join(PAYLOADS[start : start + 12])
        author.get_by_label("Comment (markdown)").fill(text)
        author.get_by_role("button", name="Add comment").click()
        expect(author.locator(".comment")).to_have_count(start // 12 + 1)
    assert_inert(author, "the ticket page with comments", dialogs)

    # Visible as text: titles exactly as typed, markup in the body and comments shown, not run.
    main = author.locator("main")
    expect(author.get_by_role("heading", level=1)).to_have_text(titles[0])
    for literal in (
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "{{7*7}}",
        "{% debug %}",
        "${alert(1)}",
    ):
        expect(main).to_contain_text(literal)
    expect(author.locator(".comment").first).to_contain_text("<script>alert(1)</script>")
    assert author.locator(".prose a[href]").count() == author.locator(".prose a[href^='http']").count()

    for path in ("/", f"/tickets/?q={tag}", "/tickets/?scope=authored", "/inbox/"):
        author.goto(path)
        assert_inert(author, f"{path} as the author", dialogs)
    author.goto(f"/tickets/?scope=authored&q={tag}")
    expect(author.locator("#ticket-results tbody tr")).to_have_count(len(titles))
    for title in titles:
        expect(author.locator("#ticket-results").get_by_role("link", name=title, exact=True)).to_have_count(1)

    # The addressee sees them on the dashboard, in the list, the inbox and each ticket page.
    sign_in(READER, on=reader)
    assert_inert(reader, "the reader's dashboard", dialogs)
    expect(reader.locator("main")).to_contain_text(tag)
    for path in (f"/tickets/?q={tag}", "/inbox/", *urls):
        reader.goto(path)
        assert_inert(reader, f"{path} as the reader", dialogs)
        if path == "/inbox/":
            expect(reader.locator(".inbox-text", has_text=tag).first).to_be_visible()
    expect(reader.get_by_role("heading", level=1)).to_have_text(titles[-1])

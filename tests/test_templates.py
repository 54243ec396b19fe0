"""The shared pieces of the page templates: the main pages' links and the filter bars' options."""

import re
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.urls import reverse, set_script_prefix

from accounts.templatetags.directorate import options
from desk.context_processors import MAIN_ROUTES, _main_urls

TEMPLATE_FOLDERS = [settings.BASE_DIR / "templates", *settings.BASE_DIR.glob("*/templates")]


def test_every_link_a_template_takes_from_urls_is_a_main_route():
    used = {
        name
        for folder in TEMPLATE_FOLDERS
        for template in Path(folder).rglob("*.html")
        for name in re.findall(r"\{\{ urls\.(\w+)", template.read_text())
    }
    assert used and used <= set(MAIN_ROUTES), sorted(used - set(MAIN_ROUTES))


def test_main_urls_follow_the_urlconf_and_the_script_prefix():
    assert _main_urls("directorate.urls", "/") == {name: reverse(name) for name in MAIN_ROUTES}
    assert _main_urls("nyx.niki_urls", "/") == _main_urls("directorate.urls", "/")  # Niki's has the same pages
    try:
        set_script_prefix("/directorate/")
        assert _main_urls("directorate.urls", "/directorate/")["tickets"] == "/directorate/tickets/"
    finally:
        set_script_prefix("/")
    assert _main_urls("directorate.urls", "/")["tickets"] == "/tickets/"


def test_options_mark_the_selected_value_and_escape_everything():
    assert options([("a", "Alpha"), ("b&c", '<b>"Beta"</b>')], "b&c") == (
        '<option value="a">Alpha</option><option value="b&amp;c" selected>&lt;b&gt;&quot;Beta&quot;&lt;/b&gt;</option>'
    )
    assert options([("a", "Alpha")], "") == '<option value="a">Alpha</option>'


def test_the_ticket_filter_bar_keeps_its_choices(as_, org):
    page = as_(org["marshal"]).get("/tickets/", {"scope": "queue", "status": "closed", "category": "Intel"})
    html = page.content.decode()
    for select, value in (("ticket-scope", "queue"), ("ticket-status", "closed"), ("ticket-category", "Intel")):
        chosen = re.search(rf'<select id="{select}"[^>]*>(.*?)</select>', html).group(1)
        assert re.findall(r'<option value="([^"]*)" selected>', chosen) == [value]
    assert '<form class="filter-bar" method="get" action="/tickets/"' in html


def test_a_template_without_its_request_still_links_home():
    # Error pages rendered without a request have no context processors: the brand link must not need them.
    page = engines["django"].get_template("400.html").render({})
    assert '<a class="brand" href="/">' in page


def test_a_rank_mark_fills_bands_up_to_the_rank_and_niki_s_shows_only_to_niki():
    from types import SimpleNamespace

    render = engines["django"].from_string("{% load directorate %}{% rank_icon member %}").render
    asset = SimpleNamespace(id="a" * 24, rank="asset")
    marshal = SimpleNamespace(id="m" * 24, rank="marshal")
    niki = SimpleNamespace(id="n" * 24, rank="niki")
    assert render({"member": asset, "user": marshal}).count(' filled"') == 1
    marshal_mark = render({"member": marshal, "user": asset})
    assert marshal_mark.count(' filled"') == 3 and 'aria-label="Rank: Marshal"' in marshal_mark
    assert 'class="rank-icon rank-nyx"' in render({"member": SimpleNamespace(id="x" * 24, rank="nyx"), "user": asset})
    assert render({"member": niki, "user": marshal}) == ""
    assert render({"member": niki, "user": None}) == ""
    assert 'class="rank-icon rank-niki"' in render({"member": niki, "user": niki})

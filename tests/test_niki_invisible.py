"""Niki is never visible to anyone else: no name, no service number, no id, on any page.

Every member of the org fixture but Niki (Nyx included) signs in and walks every page
reachable by links from the dashboard, the profile and the people directory, with
searches aimed at Niki. Niki has issued each of them a directive first, so Niki's work
is all around them.
"""

import re
from collections import deque
from urllib.parse import parse_qs, urldefrag, urlsplit

import pytest
from bson import ObjectId
from django.urls import URLResolver, get_resolver, reverse

from tests.downloads import materialised
from tests.factories import ORG
from tests.invariants import traces_of_niki
from tickets.services import create_ticket

VIEWERS = list(ORG[1:])  # everyone but Niki
SEARCHES = ["niki", "Niki", "NIKI", "7360", "nik", "736"]
NO_MATCH = "zqxj"  # matches nobody: what a search for someone who is not there looks like
MAX_PAGES = 300
HREF = re.compile(r'href="([^"]+)"')


@pytest.fixture
def org_under_niki(org):
    niki = org["niki"]
    for name in VIEWERS:
        create_ticket(
            actor=niki,
            assignee_id=org[name].id,
            category="Order",
            sub_category="Special Operation",
            title=f"Directive for {name}",
            body_md="Carry it out.",
        )
    return org


def without_token(body):
    return re.sub(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+', r"\1TOKEN", body)


def echo_replaced(body, query):
    """`body` with each echo of `query` (standing alone, not inside a longer word or number) made NO_MATCH."""
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(query)}(?![A-Za-z0-9])", NO_MATCH, body)


def links_in(body):
    for href in HREF.findall(body):
        href = urldefrag(href.replace("&amp;", "&"))[0]
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not href.startswith("/") or href.startswith("/static/"):
            continue
        yield href


def fixed_paths(patterns=None, prefix="/"):
    """Every route without parameters, so pages not yet linked from anywhere are walked too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if "<" in route or any(sign in route for sign in "^$()[]\\?*+"):
            continue
        if isinstance(pattern, URLResolver):
            yield from fixed_paths(pattern.url_patterns, prefix + route)
        else:
            yield prefix + route


def crawl(client, starts):
    """GET every page reachable from `starts` by same-site links; {url: response}."""
    client.raise_request_exception = False  # a crashing page is reported by status, not raised mid-walk
    seen, queue = {}, deque(starts)
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        response = materialised(client.get(url))  # downloads (CSV) are read whole, and checked like pages
        seen[url] = response
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            queue.extend(link for link in links_in(response.content.decode()) if link not in seen)
    return seen


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_page_shows_niki(client, org_under_niki, viewer):
    org, niki = org_under_niki, org_under_niki["niki"]
    client.force_login(org[viewer])
    directory = reverse("directory")
    starts = [reverse("dashboard"), reverse("profile"), directory, *(f"{directory}?q={q}" for q in SEARCHES)]
    starts += [path for path in fixed_paths() if path != reverse("logout")]

    pages = crawl(client, starts)

    person_pages = [url for url in pages if url.startswith(directory) and url != directory and "?" not in url]
    assert len(person_pages) >= 2, "the directory links to the people this viewer may see"
    assert pages[reverse("person", args=[org[viewer].id])].status_code == 200
    problems = []
    for url, response in pages.items():
        if parse_qs(urlsplit(url).query).get("q", [""])[0] in SEARCHES:
            continue  # a search page echoes its own query: checked below against a search for nobody
        body = response.content.decode()
        problems.extend((url, trace) for trace in traces_of_niki(body, niki))
    assert problems == []


@pytest.mark.parametrize("viewer", VIEWERS)
def test_searching_for_niki_looks_like_searching_for_nobody(client, org_under_niki, viewer):
    niki = org_under_niki["niki"]
    client.force_login(org_under_niki[viewer])
    for headers in ({}, {"HX-Request": "true"}):  # the whole page, and the fragment htmx swaps in
        nobody = client.get(reverse("directory"), {"q": NO_MATCH}, headers=headers)
        assert nobody.status_code == 200
        for query in SEARCHES:
            response = client.get(reverse("directory"), {"q": query}, headers=headers)
            assert response.status_code == 200
            body = echo_replaced(without_token(response.content.decode()), query)
            assert body == without_token(nobody.content.decode()), (query, headers)
            assert traces_of_niki(body, niki) == [], (query, headers)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_niki_person_page_is_an_ordinary_not_found(client, org_under_niki, viewer):
    org, niki = org_under_niki, org_under_niki["niki"]
    client.force_login(org[viewer])

    hidden = client.get(reverse("person", args=[niki.id]))
    missing = client.get(reverse("person", args=[str(ObjectId())]))
    malformed = client.get(reverse("person", args=["7360"]))

    assert hidden.status_code == missing.status_code == malformed.status_code == 404
    assert without_token(hidden.content.decode()) == without_token(missing.content.decode())
    assert without_token(hidden.content.decode()) == without_token(malformed.content.decode())
    assert traces_of_niki(hidden.content.decode(), niki) == []


def test_the_same_pages_do_show_niki_to_niki(client, org_under_niki):
    """The checks above can fail: Niki's own pages carry exactly the traces they look for."""
    niki = org_under_niki["niki"]
    client.force_login(niki)
    profile = client.get(reverse("profile")).content.decode()
    assert set(traces_of_niki(profile, niki)) >= {"the name Niki", "service number 7360"}
    found = client.get(reverse("directory"), {"q": "Niki"}).content.decode()
    assert niki.id in found.replace("Niki", "")
    assert client.get(reverse("person", args=[niki.id])).status_code == 200


@pytest.mark.parametrize("viewer", ["nyx", "marshal", "asset"])
def test_every_page_answers_without_a_server_error(client, org_under_niki, viewer):
    client.force_login(org_under_niki[viewer])
    pages = crawl(client, [reverse("dashboard"), reverse("profile"), reverse("directory"), *fixed_paths()])
    assert [(url, response.status_code) for url, response in pages.items() if response.status_code >= 500] == []

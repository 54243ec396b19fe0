"""Sign-in, dashboard and directory through Django's test client, on the MongoDB backend."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.paginator import Paginator
from django.urls import reverse

from accounts.models import LoginFailure
from accounts.selectors import direct_reports_of, visible_superior_of
from economy.selectors import recent_rewards
from tests_mongo_smoke.conftest import PASSWORD, compile_only, stages
from tickets.selectors import assigned_to
from tickets.services import create_ticket


def sign_in(client, username, password, address="10.1.1.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def paginator_counts_fetched_rows(monkeypatch):
    # Compile-only for the directory's count: Paginator calls QuerySet.count(), whose pipeline
    # ends in `$group` with a `$type` expression, `$unionWith` and `$documents`, none of which
    # mongomock evaluates (test_compile_only.py compiles that count). Here the paginator counts
    # the rows of the same query instead, which mongomock does evaluate.
    monkeypatch.setattr(Paginator, "count", property(lambda paginator: len(paginator.object_list)))


def test_sign_in_then_dashboard(client, org):
    shadow = org["shadow"]
    create_ticket(actor=org["marshal"], assignee_id=shadow.id, category="Intel", sub_category="Recon Report",
                  title="Count the depot trucks")
    assert client.get(reverse("dashboard")).status_code == 302  # signed out: to the sign-in page

    page = client.get(reverse("login"))
    assert page.status_code == 200 and 'name="username"' in page.content.decode()

    refused = sign_in(client, "shadow.one", "not-the-password")
    assert refused.status_code == 400
    assert "Service name or password is incorrect." in refused.content.decode()
    assert sorted((row.scope, row.key) for row in LoginFailure.objects.all()) == [
        ("account", "shadow.one"), ("address", "10.1.1.1"),
    ]

    signed_in = sign_in(client, "shadow.one", PASSWORD)
    assert signed_in.status_code == 302 and signed_in["Location"] == reverse("dashboard")
    assert [(row.scope, row.key) for row in LoginFailure.objects.all()] == [("address", "10.1.1.1")]
    session = Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert session.get_decoded()["_auth_user_id"] == shadow.id

    # The dashboard's review queue joins tickets to their assignees ($lookup with a pipeline, which
    # mongomock lacks): the page runs every read before that one for real, and the join is compiled;
    # so is the join of its recent rewards to their tickets.
    collection, pipeline = compile_only(lambda: client.get(reverse("dashboard")), collection="tickets_ticket")
    assert collection == "tickets_ticket"
    assert [lookup["from"] for lookup in stages(pipeline, "$lookup")] == ["accounts_user"]
    collection, pipeline = compile_only(lambda: list(recent_rewards(shadow)))
    assert collection == "economy_transaction"
    assert {lookup["from"] for lookup in stages(pipeline, "$lookup")} == {"accounts_user", "tickets_ticket"}
    assert [person.id for person in direct_reports_of(shadow)] == [org["asset"].id, org["asset_2"].id]
    assert [ticket.title for ticket in assigned_to(shadow)] == ["Count the depot trucks"]
    assert visible_superior_of(shadow) == org["marshal"]


def test_throttled_after_repeated_failures(client, org):
    for _ in range(settings.LOGIN_THROTTLE["per_account"]):
        assert sign_in(client, "asset.one", "wrong-password-here").status_code == 400
    throttled = sign_in(client, "asset.one", PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.content.decode()


def test_directory_shows_the_chain_of_command(client, org, paginator_counts_fetched_rows):
    client.force_login(org["marshal"])
    response = client.get(reverse("directory"))
    assert response.status_code == 200
    page = response.context["page"]
    expected = ["asset", "asset_2", "executor", "marshal", "marshal_2", "nyx", "shadow"]
    by_name = sorted(expected, key=lambda name: (org[name].display_name, org[name].id))
    assert [person.id for person in page.object_list] == [org[name].id for name in by_name]
    body = response.content.decode()
    assert org["asset_3"].display_name not in body and "Niki" not in body

    found = client.get(reverse("directory"), {"q": "SHADOW"}, headers={"HX-Request": "true"})
    assert found.status_code == 200
    assert [person.id for person in found.context["page"].object_list] == [org["shadow"].id]
    assert "<html" not in found.content.decode()  # the results partial only
    for pattern in ("a+", "(", "[", ".*"):  # searched for as typed, never as a regular expression
        response = client.get(reverse("directory"), {"q": pattern})
        assert response.status_code == 200 and list(response.context["page"].object_list) == [], pattern


def test_directory_pages(client, org, make_member, paginator_counts_fetched_rows):
    client.force_login(org["niki"])  # sees everyone
    for number in range(20):
        make_member("asset", org["shadow_2"], f"asset.extra.{number:02}", f"Zed Extra {number:02}")
    first = client.get(reverse("directory")).context["page"]
    second = client.get(reverse("directory"), {"page": 2}).context["page"]
    assert (first.paginator.num_pages, len(first.object_list), len(second.object_list)) == (2, 25, 7)
    assert [person.username for person in second.object_list] == [f"asset.extra.{n:02}" for n in range(13, 20)]


def test_profile_of_someone_out_of_sight_is_not_found(client, org):
    client.force_login(org["asset"])
    visible = client.get(reverse("person", args=[org["marshal"].id]))
    assert visible.status_code == 200 and org["marshal"].username in visible.content.decode()
    assert client.get(reverse("person", args=[org["asset_3"].id])).status_code == 404
    assert client.get(reverse("person", args=[org["niki"].id])).status_code == 404

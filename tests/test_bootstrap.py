"""`manage.py bootstrap` (Niki and Nyx, once) and `manage.py seed_demo` (the demo organisation)."""

import re
import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from accounts.ranks import Rank, level
from directorate.db import now
from economy.periods import last_completed_period
from economy.selectors import payroll_preview
from tickets.models import Ticket

GENERATED = re.compile(r"Niki's password, shown this once: (\S+)")


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def snapshot():
    return sorted(User.objects.values_list("id", "username", "rank", "password", "reports_to_id", "chain"))


@pytest.fixture
def no_niki_password(monkeypatch):
    monkeypatch.delenv("NIKI_PASSWORD", raising=False)


def test_bootstrap_creates_niki_and_nyx_once_with_a_generated_password(db, no_niki_password):
    output = run("bootstrap")

    assert User.objects.count() == 2
    niki = User.objects.get(rank=Rank.NIKI)
    assert (niki.service_number, niki.username, niki.hidden, niki.reports_to_id) == (7360, "niki", True, None)
    assert niki.has_usable_password()  # stored as production stores it: tests/test_auth.py, bcrypt
    nyx = User.objects.get(rank=Rank.NYX)
    assert nyx.reports_to_id == niki.id and not nyx.hidden and not nyx.has_usable_password()

    found = GENERATED.findall(output)
    assert len(found) == 1, output
    password = found[0]
    assert len(password) >= 12
    assert output.count(password) == 1  # shown once, and only there
    assert authenticate(username="niki", password=password) == niki

    before = snapshot()
    again = run("bootstrap")
    assert "nothing changed" in again
    assert password not in again and not GENERATED.search(again)
    assert snapshot() == before  # same ids, same password hash, nothing added


def test_bootstrap_uses_niki_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("NIKI_PASSWORD", "a-long-operator-passphrase")
    output = run("bootstrap")

    assert "a-long-operator-passphrase" not in output  # the operator's own secret is not echoed
    assert not GENERATED.search(output)
    niki = User.objects.get(rank=Rank.NIKI)
    assert authenticate(username="niki", password="a-long-operator-passphrase") == niki

    # A second run, even with a different password in the environment, changes nothing.
    before = snapshot()
    monkeypatch.setenv("NIKI_PASSWORD", "another-long-passphrase")
    assert "nothing changed" in run("bootstrap")
    assert snapshot() == before


def test_bootstrap_refuses_a_short_niki_password(db, monkeypatch):
    monkeypatch.setenv("NIKI_PASSWORD", "short-pw")
    with pytest.raises(CommandError, match="at least 12 characters"):
        run("bootstrap")
    assert User.objects.count() == 0


# --- seed_demo ---------------------------------------------------------------------------------


@pytest.fixture
def demo_settings(settings, tmp_path, monkeypatch):
    """The logins file goes to a temp folder."""
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    return settings


def test_seed_demo_enlists_the_demo_organisation(directorate, demo_settings):
    output = run("seed_demo")

    members = User.objects.exclude(rank__in=[Rank.NIKI, Rank.NYX])
    human_ranks = (Rank.EXECUTOR, Rank.MARSHAL, Rank.SHADOW, Rank.ASSET)
    counts = {rank: members.filter(rank=rank).count() for rank in human_ranks}
    assert counts == {Rank.EXECUTOR: 1, Rank.MARSHAL: 2, Rank.SHADOW: 4, Rank.ASSET: 12}
    assert User.objects.filter(rank=Rank.NIKI).count() == 1 and User.objects.filter(rank=Rank.NYX).count() == 1

    people = {person.id: person for person in User.objects.all()}
    for person in members:
        superior = people[person.reports_to_id]
        assert level(superior.rank) > level(person.rank), person.username
        assert person.chain.startswith(directorate["nyx"].chain)
        assert not person.hidden
    assert members.get(rank=Rank.EXECUTOR).reports_to_id == directorate["nyx"].id

    assert Ticket.objects.count() >= 1
    for ticket in Ticket.objects.all():
        assert ticket.author.chain.startswith(directorate["nyx"].chain)
        assert ticket.assignee.chain.startswith(directorate["nyx"].chain)

    logins = demo_settings.VAR_DIR / "demo-logins.txt"
    text = logins.read_text()
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    for person in members:
        assert person.username in text
    assert "demo-password-for-tests" in text
    assert "niki" not in text.lower() and "7360" not in text
    assert "demo-logins.txt" in output
    assert authenticate(username="asset.north", password="demo-password-for-tests") is not None


def test_the_demo_organisation_is_paid_by_the_first_payroll(directorate, demo_settings):
    run("seed_demo")
    week = last_completed_period(now())
    paid = {line.member.username for line in payroll_preview(week).lines}
    assert paid == set(User.objects.exclude(rank__in=[Rank.NIKI, Rank.NYX]).values_list("username", flat=True))
    assert len(paid) == 19


def test_seed_demo_if_empty_on_a_seeded_database_changes_nothing(directorate, demo_settings):
    run("seed_demo")
    before = snapshot()
    tickets_before = sorted(Ticket.objects.values_list("id", "updated_at"))
    logins = demo_settings.VAR_DIR / "demo-logins.txt"
    written = logins.read_text()

    output = run("seed_demo", "--if-empty")

    assert "nothing changed" in output
    assert snapshot() == before
    assert sorted(Ticket.objects.values_list("id", "updated_at")) == tickets_before
    assert logins.read_text() == written


def test_seed_demo_without_if_empty_refuses_a_seeded_database(directorate, demo_settings):
    run("seed_demo")
    before = snapshot()
    with pytest.raises(CommandError, match="already has members"):
        run("seed_demo")
    assert snapshot() == before


def test_seed_demo_if_empty_seeds_an_empty_organisation(directorate, demo_settings):
    run("seed_demo", "--if-empty")
    assert User.objects.exclude(rank__in=[Rank.NIKI, Rank.NYX]).count() == 19


def test_no_members_number_holds_the_controllers(db):
    """Five digits, never with Niki's 7360 in them: a search for Niki's number finds no one (docs/rules.md
    section 1). Every number the allocator may give is checked, not a random sample of them."""
    from accounts.services import SERVICE_NUMBER_RANGE, issuable_service_number

    low, high = SERVICE_NUMBER_RANGE
    refused = [number for number in range(low, high + 1) if not issuable_service_number(number)]
    assert refused == sorted([*range(17360, 97361, 10000), *range(73600, 73610)])
    assert not issuable_service_number(7360) and not issuable_service_number(100000)
    run("bootstrap")
    run("seed_demo")
    numbers = list(User.objects.exclude(username="niki").values_list("service_number", flat=True))
    assert numbers and all(issuable_service_number(number) for number in numbers)

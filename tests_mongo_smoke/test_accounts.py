"""People and the hierarchy through the real services and selectors, on the MongoDB backend.

Counts are taken with len() of the fetched rows: QuerySet.count() is compile-only here
(see test_compile_only.py).
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django_mongodb_backend.query import wrap_database_errors
from pymongo.errors import OperationFailure

from accounts import selectors
from accounts.models import LoginFailure, User
from accounts.ranks import Rank
from accounts.services import (
    NIKI_SERVICE_NUMBER,
    SERVICE_NUMBER_RANGE,
    bootstrap_directorate,
    clear_login_failures,
    enlist,
    record_login_failure,
)
from directorate.db import atomic, is_mongodb, now, on_commit
from directorate.errors import Conflict, Invalid, NotFound


def ids(people):
    return {person.id for person in people}


def test_bootstrap_creates_niki_and_nyx_once(directorate):
    niki, nyx = directorate["niki"], directorate["nyx"]
    assert is_mongodb()
    assert (niki.service_number, niki.hidden, niki.reports_to_id) == (NIKI_SERVICE_NUMBER, True, None)
    assert niki.chain == f"/{niki.id}/"
    assert nyx.reports_to_id == niki.id and nyx.chain == f"/{niki.id}/{nyx.id}/"
    assert not nyx.has_usable_password()
    assert niki.check_password("correct-horse-battery-staple")
    assert len(niki.id) == 24 and int(niki.id, 16)

    assert bootstrap_directorate() is None  # nothing left to create
    assert len(User.objects.all()) == 2


def test_enlist_stores_the_member(directorate):
    member = enlist(username="asset.new", display_name="New Asset", rank="executor", reports_to=directorate["nyx"])
    stored = User.objects.get(username="asset.new")
    assert stored.id == member.id and stored.rank == Rank.EXECUTOR
    assert stored.reports_to_id == directorate["nyx"].id
    assert stored.chain == directorate["nyx"].chain + member.id + "/"
    assert SERVICE_NUMBER_RANGE[0] <= stored.service_number <= SERVICE_NUMBER_RANGE[1]
    assert (stored.credits, str(stored.balance)) == (0, "0.00")


def test_enlist_refuses_a_taken_name_and_a_wrong_superior(org):
    with pytest.raises(Invalid) as taken:
        enlist(username="asset.one", display_name="Again", rank="asset", reports_to=org["shadow"])
    assert "username" in taken.value.field_errors
    with pytest.raises(Invalid) as upside_down:
        enlist(username="marshal.low", display_name="Low", rank="marshal", reports_to=org["shadow"])
    assert "reports_to" in upside_down.value.field_errors
    assert len(User.objects.all()) == 12


def test_login_lockout_per_account(db):
    limit = settings.LOGIN_THROTTLE["per_account"]
    for _ in range(limit - 1):
        record_login_failure(username="Asset.One ", address="10.0.0.1")
    assert selectors.login_lockout_seconds(username="asset.one", address="10.0.0.1") == 0
    assert len(LoginFailure.objects.filter(scope="account", key="asset.one")) == limit - 1

    record_login_failure(username="asset.one", address="10.0.0.1")
    wait = selectors.login_lockout_seconds(username="asset.one", address="10.0.0.2")
    assert 0 < wait <= settings.LOGIN_THROTTLE["window_seconds"] + 1
    assert selectors.login_lockout_seconds(username="asset.two", address="10.0.0.2") == 0

    clear_login_failures(username="ASSET.ONE")
    assert selectors.login_lockout_seconds(username="asset.one", address="10.0.0.2") == 0
    assert len(LoginFailure.objects.filter(scope="address", key="10.0.0.1")) == limit


def test_login_lockout_per_address_and_expiry(db):
    limit = settings.LOGIN_THROTTLE["per_address"]
    stale = now() - timedelta(seconds=settings.LOGIN_THROTTLE["window_seconds"] + 60)
    LoginFailure.objects.create(scope="address", key="10.9.9.9", ts=stale)
    for number in range(limit):
        record_login_failure(username=f"someone.{number}", address="10.9.9.9")
    # Each failure also forgets the ones older than the window.
    assert not LoginFailure.objects.filter(ts__lt=now() - timedelta(minutes=16)).exists()
    assert len(LoginFailure.objects.filter(scope="address", key="10.9.9.9")) == limit
    assert selectors.login_lockout_seconds(username="anyone.else", address="10.9.9.9") > 0
    assert selectors.login_lockout_seconds(username="anyone.else", address="10.9.9.8") == 0


def test_people_visible_to_follows_the_chain_of_command(org):
    # self, superiors (Niki hidden), peers and subordinates.
    expected = {
        "asset": ["asset", "asset_2", "shadow", "marshal", "executor", "nyx"],
        "marshal": ["marshal", "marshal_2", "shadow", "asset", "asset_2", "executor", "nyx"],
        "executor_2": ["executor_2", "executor", "marshal_3", "nyx"],
        "nyx": [name for name in org if name != "niki"],
    }
    for viewer, names in expected.items():
        assert ids(selectors.people_visible_to(org[viewer])) == {org[name].id for name in names}, viewer
    assert ids(selectors.people_visible_to(org["niki"])) == ids(org.values())

    ordered = selectors.people_visible_to(org["asset"]).order_by("display_name", "id")
    names = [person.display_name for person in ordered]
    assert names == sorted(names) and len(names) == 6


def test_person_for_hides_what_is_out_of_sight(org):
    assert selectors.person_for(org["asset"], org["marshal"].id) == org["marshal"]
    for hidden in (org["niki"], org["asset_3"], org["executor_2"]):
        with pytest.raises(NotFound):
            selectors.person_for(org["asset"], hidden.id)
    assert selectors.person_for(org["niki"], org["asset_3"].id) == org["asset_3"]


def test_subordinates_of_with_and_without_a_rank_cap(org):
    below_executor = ["marshal", "marshal_2", "shadow", "shadow_2", "asset", "asset_2", "asset_3"]
    assert ids(selectors.subordinates_of(org["executor"])) == {org[name].id for name in below_executor}
    assert ids(selectors.subordinates_of(org["executor"], up_to=Rank.SHADOW)) == {
        org[name].id for name in ["shadow", "shadow_2", "asset", "asset_2", "asset_3"]
    }
    assert ids(selectors.subordinates_of(org["executor"], up_to=Rank.ASSET)) == {
        org[name].id for name in ["asset", "asset_2", "asset_3"]
    }
    assert not selectors.subordinates_of(org["asset"]).exists()
    assert len(selectors.subordinates_of(org["niki"])) == 11  # everyone but Niki
    assert org["niki"].id not in ids(selectors.subordinates_of(org["niki"]))


def test_superiors_of_nearest_first_without_niki(org):
    assert [person.id for person in selectors.superiors_of(org["asset"])] == [
        org[name].id for name in ["shadow", "marshal", "executor", "nyx"]
    ]
    assert selectors.superiors_of(org["nyx"]) == []
    assert selectors.visible_superior_of(org["nyx"]) is None
    assert selectors.visible_superior_of(org["asset"]) == org["shadow"]


def test_direct_reports_of(org):
    reports = selectors.direct_reports_of(org["executor"]).order_by("rank", "display_name")
    assert [person.username for person in reports] == ["marshal.one", "marshal.two"]
    assert [person.username for person in selectors.direct_reports_of(org["niki"])] == ["nyx"]
    assert [person.username for person in selectors.direct_reports_of(org["shadow"]).order_by("-username")] == [
        "asset.two", "asset.one",
    ]


def test_atomic_runs_on_commit_callbacks_when_the_unit_ends(db):
    # On MongoDB, directorate.db.atomic() is the backend's transaction.atomic(); over mongomock
    # its session is a no-op shim, but the on_commit bookkeeping is the backend's own.
    ran = []
    with atomic():
        with atomic():
            on_commit(lambda: ran.append("inner"))
        assert ran == []
        on_commit(lambda: ran.append("outer"))
        assert ran == []
    assert ran == ["inner", "outer"]
    on_commit(lambda: ran.append("outside"))
    assert ran == ["inner", "outer", "outside"]


def server_error(message, code, labels=()):
    """A MongoDB server error as the backend hands it on: a DatabaseError caused by pymongo's error."""

    @wrap_database_errors
    def fail():
        raise OperationFailure(message, code=code, details={"errmsg": message, "code": code, "errorLabels": labels})

    return fail


def test_a_write_conflict_is_refused_as_a_conflict(db):
    # A real server fails the second of two transactions writing the same document with
    # WriteConflict (code 112, label TransientTransactionError); mongomock never does, so the
    # error is raised here as the backend would pass it on.
    ran = []
    with pytest.raises(Conflict, match="changed meanwhile"):
        with atomic():
            on_commit(lambda: ran.append("committed"))
            server_error("WriteConflict", 112, ["TransientTransactionError"])()
    assert ran == []
    with pytest.raises(DatabaseError, match="BadValue") as other:
        with atomic():
            server_error("BadValue", 2)()
    assert not isinstance(other.value, Conflict)
    with pytest.raises(IntegrityError):
        with atomic():
            User.objects.create(username="twin", display_name="Twin", rank="asset", service_number=10001)
            User.objects.create(username="twin", display_name="Twin", rank="asset", service_number=10002)


def test_sign_in_counts_the_attempt_before_the_password_and_refuses_past_the_limit(directorate, rf):
    from accounts.services import sign_in
    from directorate.errors import Throttled

    request = rf.post("/login/", REMOTE_ADDR="10.7.7.7")
    for _ in range(settings.LOGIN_THROTTLE["per_account"]):
        with pytest.raises(Invalid):
            sign_in(request=request, username="niki", password="wrong-guess-123")
    with pytest.raises(Throttled):
        sign_in(request=request, username="niki", password="wrong-guess-123")
    rows = list(LoginFailure.objects.filter(key="niki"))
    assert len(rows) == settings.LOGIN_THROTTLE["per_account"]  # the refused attempt took its rows back


def test_the_migration_rekeys_niki_and_every_chain(directorate):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0006_niki_unlinkable_id")
    old_id = directorate["niki"].id
    migration.rekey_niki(apps, None)
    niki = User.objects.get(rank=Rank.NIKI)
    nyx = User.objects.get(rank=Rank.NYX)
    assert niki.id != old_id and niki.username == "niki" and niki.service_number == NIKI_SERVICE_NUMBER
    assert nyx.reports_to_id == niki.id and nyx.chain == f"/{niki.id}/{nyx.id}/"
    assert not list(User.objects.filter(id=old_id))
